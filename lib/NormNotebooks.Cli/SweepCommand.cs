// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Globalization;
using NormNotebooks.Training;

namespace NormNotebooks.Cli;

/// <summary><c>normnb sweep</c>: list, run (one point by index, as a Slurm array or Kubernetes Indexed Job task would) and merge a sweep.</summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var grid = new Option<string>("--grid") { Description = "The sweep's grid file (JSON, written by the notebook that owns the sweep).", Required = true };
        var results = new Option<string?>("--results") { Description = "Results folder (one NAME.json per point). Default: the folder 'runs' beside the grid file." };

        var list = new Command("list", "Print the grid's points with their index, size, tokens and compute.") { grid };
        list.SetAction(parse => Guard("list", () =>
        {
            var g = SweepGrid.Load(parse.GetValue(grid)!);
            Console.WriteLine($"{g.Name}: {g.Points.Count} points (indices 0–{g.Points.Count - 1}) on {g.Dataset}");
            Console.WriteLine($"{"index",5}  {"name",-28} {"width",5} {"depth",5} {"steps",6} {"tokens",10}");
            for (var i = 0; i < g.Points.Count; i++)
            {
                var p = g.Points[i];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i,5}  {p.Name,-28} {p.Model?.Width ?? p.Translation!.Width,5} {(p.Model is { } m ? m.Depth.ToString(CultureInfo.InvariantCulture) : $"{p.Translation!.EncoderDepth}+{p.Translation.DecoderDepth}"),5} {p.Training.Steps,6} {p.Tokens,10:0.###e0}"));
            }
            return 0;
        }));

        var index = new Option<int?>("--index") { Description = $"The point to train. Default: the scheduler's task index ({string.Join(", ", Sweep.IndexVariables)})." };
        var all = new Option<bool>("--all") { Description = "Train every point without a result, one after another (a local run of the whole sweep)." };
        var run = new Command("run", "Train one grid point (or all missing ones) and write its JSON result; a point with a result is skipped.") { grid, results, index, all };
        run.SetAction(parse => Guard("run", () =>
        {
            var path = parse.GetValue(grid)!;
            var g = SweepGrid.Load(path);
            var folder = ResultsFolder(path, parse.GetValue(results));
            var chosen = parse.GetValue(index) ?? Sweep.IndexFromEnvironment();
            if (parse.GetValue(all) == chosen.HasValue)
                throw new ArgumentException(parse.GetValue(all)
                    ? "give either --all or an index (--index, or a scheduler's task index in the environment), not both."
                    : $"no point chosen: give --index N, --all, or run as a scheduler task ({string.Join(", ", Sweep.IndexVariables)}).");
            var indices = chosen is { } one ? [one] : Sweep.Load(g, folder).Missing;
            if (chosen is { } c && (c < 0 || c >= g.Points.Count))
                throw new ArgumentException($"--index {c} is outside the grid {path} (indices 0–{g.Points.Count - 1}).");
            Func<int, SweepRecord> train;
            if (indices.Count == 0)
                train = _ => throw new InvalidOperationException();
            else if (g.IsTranslation)
            {
                var task = Sweep.LoadTranslation(g);
                train = i => Sweep.RunPoint(g, i, folder, task);
            }
            else
            {
                var data = Sweep.LoadDataset(g);
                train = i => Sweep.RunPoint(g, i, folder, data);
            }
            foreach (var i in indices)
            {
                var existed = File.Exists(Sweep.ResultPath(folder, g.Points[i].Name));
                var record = train(i);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(existed ? "kept" : "trained")} [{i}] {record.Point.Name}: N = {record.Parameters:N0}, D = {record.Tokens:0.###e0} tokens, loss {record.Loss:F4}, {record.Result.WallSeconds:F1} s → {Sweep.ResultPath(folder, record.Point.Name)}"));
            }
            if (indices.Count == 0)
                Console.WriteLine($"every point of {g.Name} has a result in {folder}");
            return 0;
        }));

        var csv = new Option<string?>("--csv") { Description = "Write the merged table here (CSV, one row per point, for normnb fit); default: print it." };
        var allowMissing = new Option<bool>("--allow-missing") { Description = "Merge what is there even when some points have no result yet." };
        var merge = new Command("merge", "Merge the results folder into one table; fails when points are missing unless --allow-missing.") { grid, results, csv, allowMissing };
        merge.SetAction(parse => Guard("merge", () =>
        {
            var path = parse.GetValue(grid)!;
            var merged = Sweep.Load(SweepGrid.Load(path), ResultsFolder(path, parse.GetValue(results)));
            if (!merged.Complete && !parse.GetValue(allowMissing))
            {
                Console.Error.WriteLine($"normnb sweep merge: {merged.Missing.Count} of {merged.Grid.Points.Count} points have no result in {merged.Folder}: " +
                                        $"indices {string.Join(", ", merged.Missing)} (train them, or pass --allow-missing).");
                return 4;
            }
            if (parse.GetValue(csv) is { } file)
            {
                Sweep.WriteAtomically(file, merged.ToCsv());
                Console.WriteLine($"{merged.Records.Count} of {merged.Grid.Points.Count} points → {file}");
            }
            else
                Console.Write(merged.ToCsv());
            return 0;
        }));

        return new Command("sweep", "Run a notebook's sweep one grid point per call (fan it out with a Slurm array or a Kubernetes Indexed Job) and merge the results.")
        {
            list, run, merge,
        };
    }

    private static string ResultsFolder(string grid, string? results) =>
        results ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(grid))!, "runs");

    private static int Guard(string verb, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or KeyNotFoundException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"normnb sweep {verb}: {e.Message}");
            return 1;
        }
    }
}
