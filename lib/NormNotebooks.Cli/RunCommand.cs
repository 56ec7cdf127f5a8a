// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Runtime.InteropServices;
using NormNotebooks.Runtime;
using System.Xml.Linq;
using NormNotebooks.Runner;

namespace NormNotebooks.Cli;

/// <summary><c>normnb run</c>: execute notebooks headless, each in its own process.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("notebooks") { Description = "Notebooks (.ipynb) or folders of notebooks (run in name order).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--output") { Description = "Write executed copies (and run summaries) to this folder instead of in place." };
        var quick = new Option<bool>("--quick") { Description = "Set NORMNB_QUICK=1 for the notebooks: shrunk sizes, same code paths." };
        var allowErrors = new Option<bool>("--allow-errors") { Description = "Run every cell even after a failure, and save the result." };
        var timeout = new Option<double>("--timeout") { Description = "Per-cell time limit in seconds; the notebook process is stopped past it.", DefaultValueFactory = _ => 1200 };
        var startTimeout = new Option<double>("--start-timeout") { Description = "Time limit in seconds for a notebook process to reach its first cell (process start, the kernel's construction).", DefaultValueFactory = _ => 120 };
        var maxOutput = new Option<long>("--max-output") { Description = "Per-cell limit on output characters (stdout, stderr, displays and results together; the first chart embeds plotly.js, 3.6 MB).", DefaultValueFactory = _ => 16 << 20 };
        var parameters = new Option<string[]>("--parameter", "-p") { Description = "name=value, injected papermill-style after the cell tagged 'parameters' (repeatable).", AllowMultipleArgumentsPerToken = false };
        var junit = new Option<string?>("--junit") { Description = "Write a JUnit XML report (one test case per notebook) to this file." };
        var html = new Option<bool>("--html") { Description = "Also export each executed notebook to HTML with `jupyter nbconvert` (Debian: jupyter-nbconvert)." };
        var command = new Command("run", "Execute notebooks headless on .NET Interactive's C# kernel; write outputs back atomically.")
        {
            paths, output, quick, allowErrors, timeout, startTimeout, maxOutput, parameters, junit, html,
        };
        command.SetAction(async (parse, _) =>
        {
            var parsed = new Dictionary<string, string>();
            foreach (var pair in parse.GetValue(parameters) ?? [])
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0 || !System.Text.RegularExpressions.Regex.IsMatch(pair[..eq], "^[A-Za-z_][A-Za-z0-9_]*$"))
                {
                    Console.Error.WriteLine($"normnb run: parameter '{pair}' is not name=value with a C# identifier as name.");
                    return 2;
                }
                parsed[pair[..eq]] = pair[(eq + 1)..];
            }
            if (parse.GetValue(maxOutput) <= 0)
            {
                Console.Error.WriteLine($"normnb run: --max-output must be positive (got {parse.GetValue(maxOutput)}).");
                return 2;
            }
            var seconds = parse.GetValue(timeout);
            var startSeconds = parse.GetValue(startTimeout);
            if (startSeconds <= 0)
            {
                Console.Error.WriteLine($"normnb run: --start-timeout must be positive (got {startSeconds}).");
                return 2;
            }
            if (seconds <= 0)
            {
                Console.Error.WriteLine($"normnb run: --timeout must be positive (got {seconds}).");
                return 2;
            }
            // SIGINT (Ctrl-C) and SIGTERM (CI cancel, kill, docker stop) stop the running notebook cleanly: its process is ended, its
            // partial copy and summary are written, no further notebook starts, and the exit code says which signal (128 + N).
            using var interrupt = new CancellationTokenSource();
            PosixSignal? received = null;
            void OnSignal(PosixSignalContext context)
            {
                if (interrupt.IsCancellationRequested)
                    return;   // a second signal: the default action, the CLI ends now
                context.Cancel = true;
                received = context.Signal;
                interrupt.Cancel();
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            var notebooks = new List<string>();
            if ((Expand(parse.GetValue(paths)!, notebooks)
                 ?? (parse.GetValue(output) is { } folder ? NotebookRunner.OutputConflict(notebooks, folder) : null)) is { } usage)
            {
                Console.Error.WriteLine($"normnb run: {usage}");
                return 2;
            }
            var options = new RunOptions
            {
                OutputDirectory = parse.GetValue(output),
                Quick = parse.GetValue(quick),
                AllowErrors = parse.GetValue(allowErrors),
                CellTimeout = TimeSpan.FromSeconds(seconds),
                StartTimeout = TimeSpan.FromSeconds(startSeconds),
                MaxOutputChars = parse.GetValue(maxOutput),
                Parameters = parsed,
                Echo = Console.Out,
                Interrupt = interrupt.Token,
            };
            DataCommand.EnsureFor(notebooks);
            var runner = new NotebookRunner(options);
            var results = new List<NotebookRunResult>();
            for (var i = 0; i < notebooks.Count; i++)
            {
                if (interrupt.IsCancellationRequested)
                {
                    Console.WriteLine($"■ stopped by {received}: {notebooks.Count - i} notebook(s) not run");
                    break;
                }
                Console.WriteLine($"▶ [{i + 1}/{notebooks.Count}] {Path.GetRelativePath(Environment.CurrentDirectory, notebooks[i])}{(options.Quick ? " (quick)" : "")}");
                var result = await runner.RunAsync(notebooks[i]);
                results.Add(result);
                if (parse.GetValue(html) && result.Output is { } written && !interrupt.IsCancellationRequested)
                    ExportHtml(written);
            }
            Console.WriteLine();
            var allowed = options.AllowErrors;
            foreach (var r in results)
            {
                var name = Path.GetFileName(r.Notebook);
                Console.WriteLine(r.Failure(allowed) is { } failure ? $"✗ {name,-40} {r.Seconds,8:0.0} s  {failure}"
                    : r.Ok ? $"✓ {name,-40} {r.Seconds,8:0.0} s  {r.Cells.Count} code cells  {ClaimSummary(r)}"
                    : $"⚠ {name,-40} {r.Seconds,8:0.0} s  completed with {r.Cells.Count(c => !c.Ok)} failing cell(s) (--allow-errors); first: {r.FirstFailure}");
            }
            var failed = results.Count(r => r.Failure(allowed) is not null);
            Console.WriteLine($"{results.Count - failed} passed, {failed} failed");
            if (parse.GetValue(junit) is { } report)
                WriteJUnit(report, results, allowed);
            return received switch
            {
                PosixSignal.SIGINT => 130,
                PosixSignal.SIGTERM => 143,
                _ => failed == 0 ? 0 : 1,
            };
        });
        return command;
    }

    private static string ClaimSummary(NotebookRunResult result) =>
        string.Join(", ", new[]
        {
            result.Claims.Count == 0 ? "" : $"{result.Claims.Count} claims",
            result.Warnings is not { Count: > 0 } warnings ? "" : $"⚠ {warnings.Count} warning{(warnings.Count == 1 ? "" : "s")}: {warnings[0]}",
        }.Where(s => s.Length > 0));

    /// <summary>Adds the notebooks named (folders: their notebooks in name order) to <paramref name="notebooks"/>, as full paths;
    /// returns why a path names none, or null.</summary>
    private static string? Expand(IEnumerable<string> paths, List<string> notebooks)
    {
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var found = Directory.GetFiles(path, "*.ipynb").Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                    return $"'{path}' is a folder without notebooks (*.ipynb).";
                notebooks.AddRange(found.Select(Path.GetFullPath));
            }
            else if (File.Exists(path))
                notebooks.Add(Path.GetFullPath(path));
            else
                return $"'{path}' is neither a notebook nor a folder.";
        }
        return null;
    }

    private static void WriteJUnit(string path, IReadOnlyList<NotebookRunResult> results, bool allowErrors)
    {
        var suite = new XElement("testsuite",
            new XAttribute("name", "normnb run"),
            new XAttribute("tests", results.Count),
            new XAttribute("failures", results.Count(r => r.Failure(allowErrors) is not null)),
            new XAttribute("time", results.Sum(r => r.Seconds).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)),
            results.Select(r => new XElement("testcase",
                new XAttribute("classname", "notebooks"),
                new XAttribute("name", Path.GetFileName(r.Notebook)),
                new XAttribute("time", r.Seconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)),
                r.Failure(allowErrors) is not { } failure ? null : new XElement("failure", new XAttribute("message", failure),
                    string.Join("\n", r.Cells.Where(c => !c.Ok).Select(c => $"cell {c.Number}: {c.Ename}: {c.Evalue}")) + (r.Error ?? "")))));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        new XDocument(new XElement("testsuites", suite)).Save(path);
    }

    private static void ExportHtml(string notebook)
    {
        try
        {
            var export = ExternalProcess.Run("jupyter", ["nbconvert", "--to", "html", notebook], TimeSpan.FromMinutes(5));
            Console.WriteLine(export.Succeeded ? $"  html: {Path.ChangeExtension(notebook, ".html")}"
                : export.TimedOut ? "  html export failed: jupyter nbconvert did not finish within 5 minutes"
                : $"  html export failed: {export.Stderr.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.WriteLine("  html export skipped: `jupyter` is not installed (Debian: apt-get install jupyter-nbconvert).");
        }
    }
}
