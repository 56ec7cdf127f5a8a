// SPDX-License-Identifier: MIT
using System.Globalization;
using NormNotebooks.Data;
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
        Assert.Equal("index,name,width,params,nonEmbeddingParams,encoderParams,decoderParams,tokens,flops,loss,diverged,wallSeconds", lines[0]);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("1,w12,12,", lines[2]);

        // The library merge reads the same records, with their curves.
        var merged = Sweep.Load(SweepGrid.Load(grid), Path.Combine(_folder, "runs"));
        Assert.True(merged.Complete);
        var w12 = merged["w12"];
        Assert.Equal(w12.Parameters * 6.0 * w12.Tokens, w12.Flops);
        Assert.True(w12.NonEmbeddingParameters < w12.Parameters);
        Assert.Equal(double.Parse(lines[2].Split(',')[9], CultureInfo.InvariantCulture), w12.Loss);
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

    // Width 16, 2 heads: an encoder block has self_qkv 16·48 + 48, self_proj 16·16 + 16, an MLP 16·64 + 64 + 64·16 + 16 and two norms
    // of 2·16 = 3,280 parameters; a decoder block adds cross_q 272, cross_kv 544, cross_proj 272 and a third norm 32 = 4,400; each side
    // ends in a norm of 32.
    private const long EncoderBlock = 3280, DecoderBlock = 4400, FinalNorm = 32;

    private static SweepPoint TranslationPoint(string name, int encoder, int decoder, int vocabulary, int context = 49) => new(name, null,
        new TrainingConfig(3, BatchSize: 4, Context: context, LearningRate: 1e-2, EvaluateEvery: 2),
        Tags: new Dictionary<string, double> { ["e"] = encoder, ["d"] = decoder },
        Translation: new Seq2SeqConfig(vocabulary, Width: 16, EncoderDepth: encoder, DecoderDepth: decoder, Heads: 2, Context: 49));

    [Fact]
    public void TranslationPoints_RunByIndex_AndCountEncoderAndDecoderSeparately()
    {
        _ = TestData.Brown;
        var vocabulary = Sweep.LoadTranslation(new SweepGrid("nmt", "brown-translation", [TranslationPoint("x", 1, 1, 1)])).VocabularySize;
        var grid = Path.Combine(_folder, "grid.json");
        var sweep = new SweepGrid("nmt", "brown-translation", [TranslationPoint("e1d2", 1, 2, vocabulary), TranslationPoint("e2d1", 2, 1, vocabulary)]);
        sweep.Save(grid);
        Assert.Equal(sweep.Points[1].Translation, SweepGrid.Load(grid).Points[1].Translation);

        var (exit, stdout, stderr) = CliTests.Normnb("sweep", "run", "--grid", grid, "--index", "0");
        Assert.True(exit == 0, stderr);
        Assert.Contains("trained [0] e1d2", stdout);
        (exit, stdout, _) = CliTests.Normnb("sweep", "list", "--grid", grid);
        Assert.Equal(0, exit);
        Assert.Contains("2+1", stdout);
        var runs = Path.Combine(_folder, "runs");
        var second = Sweep.RunPoint(SweepGrid.Load(grid), 1, runs, Sweep.LoadTranslation(sweep));
        var merged = Sweep.Load(SweepGrid.Load(grid), runs);
        Assert.True(merged.Complete);
        Assert.Equal(EncoderBlock + FinalNorm, merged["e1d2"].EncoderParameters);
        Assert.Equal(2 * DecoderBlock + FinalNorm, merged["e1d2"].DecoderParameters);
        Assert.Equal(2 * EncoderBlock + FinalNorm, second.EncoderParameters);
        Assert.Equal(DecoderBlock + FinalNorm, second.DecoderParameters);
        Assert.Equal(second.EncoderParameters + second.DecoderParameters, second.NonEmbeddingParameters);
        // Everything else is embeddings and the output head: two token tables, the positions, the head's weight and bias.
        Assert.Equal(second.NonEmbeddingParameters + 2L * vocabulary * 16 + 49 * 16 + vocabulary * 16 + vocabulary, second.Parameters);
        Assert.Equal(3.0 * 4 * 49, second.Tokens);
        Assert.True(double.IsFinite(second.Loss) && second.Result.FinalValidationAccuracy is > 0 and < 1);
        Assert.StartsWith("1,e2d1,1,2,", merged.ToCsv().Split('\n')[2]);            // tags d, e in name order
        Assert.Contains($",{2 * EncoderBlock + FinalNorm},{DecoderBlock + FinalNorm},", merged.ToCsv().Split('\n')[2]);
    }

    [Fact]
    public void TranslationGrids_RefuseCharacterPoints_AndATaskThatDoesNotFit()
    {
        var mixed = new SweepGrid("g", "brown-translation", [TranslationPoint("t", 1, 1, 20), Point("w8", 8, 3)]);
        Assert.Contains("point 1 ('w8') lacks its Translation model", Assert.Throws<ArgumentException>(() => mixed.Validate()).Message);
        Assert.Contains("point 0 ('t') lacks its Model configuration", Assert.Throws<ArgumentException>(() => new SweepGrid("g", "brown", [TranslationPoint("t", 1, 1, 20)]).Validate()).Message);
        var both = Point("w8", 8, 3) with { Translation = new Seq2SeqConfig(20) };
        Assert.Contains("has a Translation model, which the data set 'brown' does not train", Assert.Throws<ArgumentException>(() => new SweepGrid("g", "brown", [both]).Validate()).Message);
        var task = new CipherTranslation(new CharDataset(Enumerable.Repeat("the cat saw a dog and the dog saw a cat. ", 40).ToList()), length: 15);
        var grid = new SweepGrid("g", "brown-translation", [TranslationPoint("t", 1, 1, 20), TranslationPoint("u", 1, 1, task.VocabularySize, context: 12)]);
        Assert.Contains($"vocabulary of 20 but the task has {task.VocabularySize} tokens", Assert.Throws<ArgumentException>(() => Sweep.RunPoint(grid, 0, _folder, task)).Message);
        Assert.Contains("counts 12 target tokens a pair", Assert.Throws<ArgumentException>(() => Sweep.RunPoint(grid, 1, _folder, task)).Message);
        Assert.Contains("pass its translation task", Assert.Throws<ArgumentException>(() => Sweep.RunPoint(grid, 0, _folder, new CharDataset(Enumerable.Repeat("abc abc", 20).ToList()))).Message);
        Assert.Empty(Directory.GetFiles(_folder, "*.json"));
    }
}
