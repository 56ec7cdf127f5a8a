// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using NormNotebooks.Scaling;

namespace NormNotebooks.Cli;

/// <summary><c>normnb fit</c>: fit a scaling law to a CSV of runs, with bootstrap intervals.</summary>
internal static class FitCommand
{
    public static Command Create()
    {
        var form = new Option<string>("--form") { Description = $"The law: {string.Join(", ", ScalingLaws.Names)}.", Required = true };
        var csv = new Option<string>("--csv") { Description = "CSV file with a header row, one run per row.", Required = true };
        var columns = new Option<string?>("--columns") { Description = "Map the law's variables and L (the fitted value, usually the loss) to CSV columns, e.g. N=params,D=tokens,L=loss; group=run for a cluster bootstrap. Defaults: N, D, S, Ne, Nd, x and L." };
        var delta = new Option<double>("--huber-delta") { Description = "Huber δ on log residuals.", DefaultValueFactory = _ => 1e-3 };
        var squared = new Option<bool>("--least-squares") { Description = "Plain least squares on log residuals instead of Huber." };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for standard errors and intervals.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "Bootstrap seed.", DefaultValueFactory = _ => 0 };
        var drop = new Option<int>("--drop-highest") { Description = "Drop the k runs with the highest loss before fitting (off by default)." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var command = new Command("fit", "Fit a scaling law (Huber on log residuals, summed; multi-start L-BFGS; bootstrap intervals).")
        {
            form, csv, columns, delta, squared, bootstrap, seed, drop, json,
        };
        command.SetAction(parse =>
        {
            try
            {
                var path = parse.GetValue(csv)!;
                var map = ParseColumns(parse.GetValue(columns));
                var law = Law(parse.GetValue(form)!, map);
                var data = ScalingData.FromCsv(path, law.Variables, map);
                law = ScalingLaws.ReferencedTo(law, data);
                var options = new FitOptions
                {
                    HuberDelta = parse.GetValue(delta),
                    Loss = parse.GetValue(squared) ? ResidualLoss.Squared : ResidualLoss.Huber,
                    Bootstrap = parse.GetValue(bootstrap),
                    Seed = parse.GetValue(seed),
                    DropHighest = parse.GetValue(drop),
                };
                var fit = ScalingFitter.Fit(law, data, options);
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(Report(fit), CliJson.Options));
                else
                    Print(fit, options);
                if (!fit.Converged)
                {
                    Console.Error.WriteLine($"normnb fit: the best start did NOT converge (L-BFGS stopped: {fit.ExitReason}); treat the estimates as unreliable.");
                    return 3;
                }
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"normnb fit: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static ScalingLaw Law(string name, IReadOnlyDictionary<string, string> map)
    {
        if (!ScalingLaws.Names.Contains(name))
            throw new ArgumentException($"unknown --form '{name}'; use one of {string.Join(", ", ScalingLaws.Names)}.");
        var variables = map.Keys.Where(k => k is not ("L" or "group")).ToArray();
        if (name == "loglinear" && variables.Length == 0)
            throw new ArgumentException("--form loglinear takes its variables from --columns, e.g. --columns N=params,D=tokens,L=lr (y = c·N^k_N·D^k_D).");
        return ScalingLaws.Create(name, variables);
    }

    private static Dictionary<string, string> ParseColumns(string? text)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new ArgumentException($"--columns: '{pair}' is not ROLE=COLUMN (e.g. N=params).");
            map[parts[0]] = parts[1];
        }
        return map;
    }

    private static object Report(ScalingFit fit) => new
    {
        law = fit.Law.Name,
        equation = fit.Law.Equation,
        fit.Points,
        droppedRows = fit.DroppedRows,
        fit.Objective,
        fit.Converged,
        fit.ExitReason,
        fit.Iterations,
        fit.Starts,
        fit.StartsAtBest,
        fit.RmsLogResidual,
        fit.MaxAbsLogResidual,
        bootstrap = fit.Ensemble.Count,
        fit.BootstrapFailures,
        fit.Level,
        seconds = fit.Elapsed.TotalSeconds,
        parameters = fit.Parameters,
        derived = fit.Derived,
    };

    private static void Print(ScalingFit fit, FitOptions options)
    {
        Console.WriteLine($"{fit.Law.Name}: {fit.Law.Equation}");
        Console.WriteLine($"{fit.Points} runs{(fit.DroppedRows.Count > 0 ? $" ({fit.DroppedRows.Count} highest-loss dropped: {string.Join(", ", fit.DroppedRows)})" : "")}; " +
                          $"{(options.Loss == ResidualLoss.Huber ? $"Huber δ={options.HuberDelta:G3}" : "least squares")} on log residuals, summed");
        Console.WriteLine($"objective {fit.Objective:G6}; {(fit.Converged ? "converged" : "NOT converged")} ({fit.ExitReason}, {fit.Iterations} iterations); " +
                          $"{fit.StartsAtBest} of {fit.Starts} starts reached the best; RMS log residual {fit.RmsLogResidual:G3}, max {fit.MaxAbsLogResidual:G3}");
        var interval = $"{fit.Level * 100:0.#}% interval";
        Console.WriteLine();
        Console.WriteLine($"{"parameter",-22} {"estimate",14} {"std. error",12}   {interval}");
        foreach (var e in fit.Parameters.Concat(fit.Derived))
        {
            var se = e.StandardError is { } s ? s.ToString("G4", CultureInfo.InvariantCulture) : "–";
            var ci = e.Lower is { } lo && e.Upper is { } hi ? $"[{lo.ToString("G5", CultureInfo.InvariantCulture)}, {hi.ToString("G5", CultureInfo.InvariantCulture)}]" : "–";
            Console.WriteLine($"{e.Name,-22} {e.Value.ToString("G6", CultureInfo.InvariantCulture),14} {se,12}   {ci}");
        }
        if (fit.Ensemble.Count > 0)
            Console.WriteLine($"\nbootstrap: {fit.Ensemble.Count} refits{(fit.BootstrapFailures > 0 ? $", {fit.BootstrapFailures} did not converge and are left out" : "")}; {fit.Elapsed.TotalSeconds:F1} s in all");
    }
}
