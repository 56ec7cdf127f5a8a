// SPDX-License-Identifier: MIT
using System.Globalization;
using NormNotebooks.Models;
using NormNotebooks.Tests.Cli;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;

namespace NormNotebooks.Tests.Training;

public sealed class SweepTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("normnb-sweep-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static SweepPoint Point(string name, int width, int steps, long seed = 0) => new(name,
        new TransformerConfig(85, Width: width, Depth: 1, Heads: 1, Context: 16),
        new TrainingConfig(steps, BatchSize: 4, Context: 16, LearningRate: 1e-2, ValidationCharacters: 400, EvaluateEvery: 2, Seed: seed),
        InitSeed: seed, Tags: new Dictionary<string, double> { ["width"] = width });

    private static SweepGrid Tiny() => new("tiny", "brown", [Point("w8", 8, 3), Point("w12", 12, 4)]);

    [Fact]
    public void Grid_RoundTripsThroughItsFile()
    {
        var path = Path.Combine(_folder, "grid.json");
        Tiny().Save(path);
        var loaded = SweepGrid.Load(path);
        Assert.Equal(2, loaded.Points.Count);
        Assert.Equal(Tiny().Points[1].Model, loaded.Points[1].Model);
        Assert.Equal(Tiny().Points[1].Training, loaded.Points[1].Training);
        Assert.Equal(12, loaded.Points[1].Tag("width"));
        Assert.Equal(4.0 * 4 * 16, loaded.Points[1].Tokens);
        Assert.Contains("has no tag 'budget'", Assert.Throws<KeyNotFoundException>(() => loaded.Points[0].Tag("budget")).Message);
    }

    [Fact]
    public void BadGrids_AreRefused_NamingThePoint()
    {
        Assert.Contains("'w8' is used twice", Assert.Throws<ArgumentException>(() => new SweepGrid("g", "brown", [Point("w8", 8, 3), Point("w8", 12, 3)]).Validate()).Message);
        Assert.Contains("not file-name safe", Assert.Throws<ArgumentException>(() => new SweepGrid("g", "brown", [Point("../x", 8, 3)]).Validate()).Message);
        Assert.Contains("data set 'wiki'", Assert.Throws<ArgumentException>(() => new SweepGrid("g", "wiki", [Point("a", 8, 3)]).Validate()).Message);
        var path = Path.Combine(_folder, "broken.json");
        File.WriteAllText(path, "{ \"Name\": ");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => SweepGrid.Load(path)).Message);
    }

    [Fact]
    public void TwoIndices_RunAsSeparateTasks_ThenMerge_AsAnArrayJobWould()
    {
        _ = TestData.Brown;   // fetch the corpus the way `normnb data` does, so the CLI finds it
        var grid = Path.Combine(_folder, "grid.json");
        Tiny().Save(grid);

        // Before any task ran: merge names the missing indices and fails.
        var (exit, _, stderr) = CliTests.Normnb("sweep", "merge", "--grid", grid);
        Assert.Equal(4, exit);
        Assert.Contains("indices 0, 1", stderr);

        // Task 0 by option, task 1 by the index a Slurm array sets.
        (exit, var stdout, stderr) = CliTests.Normnb("sweep", "run", "--grid", grid, "--index", "0");
        Assert.True(exit == 0, stderr);
        Assert.Contains("trained [0] w8", stdout);
        (exit, stdout, stderr) = CliTests.Normnb(new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "1" }, "sweep", "run", "--grid", grid);
        Assert.True(exit == 0, stderr);
        Assert.Contains("trained [1] w12", stdout);

        // A re-submitted task finds its result and keeps it.
        (exit, stdout, _) = CliTests.Normnb(new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "0" }, "sweep", "run", "--grid", grid);
        Assert.Equal(0, exit);
        Assert.Contains("kept [0] w8", stdout);

        var csv = Path.Combine(_folder, "merged.csv");
        (exit, _, stderr) = CliTests.Normnb("sweep", "merge", "--grid", grid, "--csv", csv);
        Assert.True(exit == 0, stderr);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("index,name,width,params,nonEmbeddingParams,tokens,flops,loss,diverged,wallSeconds", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("1,w12,12,", lines[2]);

        // The library merge reads the same records, with their curves.
        var merged = Sweep.Load(SweepGrid.Load(grid), Path.Combine(_folder, "runs"));
        Assert.True(merged.Complete);
        var w12 = merged["w12"];
        Assert.Equal(w12.Parameters * 6.0 * w12.Tokens, w12.Flops);
        Assert.True(w12.NonEmbeddingParameters < w12.Parameters);
        Assert.Equal(double.Parse(lines[2].Split(',')[7], CultureInfo.InvariantCulture), w12.Loss);
        Assert.Equal([2 * 4 * 16.0, 4 * 4 * 16.0], w12.Curve.Select(c => c.Tokens));
        Assert.Equal(w12.Result.FinalValidationLoss, w12.Curve[^1].Loss);
    }

    [Fact]
    public void AResultOfAnotherConfiguration_IsNeverUsed_NorOverwritten()
    {
        _ = TestData.Brown;
        var grid = Path.Combine(_folder, "grid.json");
        new SweepGrid("tiny", "brown", [Point("w8", 8, 2)]).Save(grid);
        var (exit, _, stderr) = CliTests.Normnb("sweep", "run", "--grid", grid, "--all");
        Assert.True(exit == 0, stderr);
        var result = Path.Combine(_folder, "runs", "w8.json");
        var saved = File.ReadAllText(result);
        new SweepGrid("tiny", "brown", [Point("w8", 8, 3)]).Save(grid);      // the grid changed under the result
        (exit, _, stderr) = CliTests.Normnb("sweep", "run", "--grid", grid, "--index", "0");
        Assert.Equal(1, exit);
        Assert.Contains("another configuration than grid point 0 ('w8')", stderr);
        Assert.Contains(result, stderr);
        Assert.Equal(saved, File.ReadAllText(result));
        Assert.Throws<InvalidDataException>(() => Sweep.Load(SweepGrid.Load(grid), Path.Combine(_folder, "runs")));
    }

    [Fact]
    public void UsageErrors_NameTheParameter()
    {
        var grid = Path.Combine(_folder, "grid.json");
        Tiny().Save(grid);
        var (exit, _, stderr) = CliTests.Normnb("sweep", "run", "--grid", grid, "--index", "7");
        Assert.Equal(1, exit);
        Assert.Contains("--index 7 is outside the grid", stderr);
        (exit, _, stderr) = CliTests.Normnb(new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "x" }, "sweep", "run", "--grid", grid);
        Assert.Equal(1, exit);
        Assert.Contains("SLURM_ARRAY_TASK_ID='x'", stderr);
        (exit, _, stderr) = CliTests.Normnb("sweep", "run", "--grid", grid);
        Assert.Equal(1, exit);
        Assert.Contains("no point chosen", stderr);
        (exit, _, stderr) = CliTests.Normnb("sweep", "list", "--grid", Path.Combine(_folder, "none.json"));
        Assert.Equal(1, exit);
        Assert.Contains("none.json does not exist", stderr);
    }
}
