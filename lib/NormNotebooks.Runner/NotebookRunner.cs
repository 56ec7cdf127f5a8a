// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormNotebooks.Runner;

/// <summary>How <see cref="NotebookRunner"/> runs notebooks.</summary>
public sealed record RunOptions
{
    /// <summary>Write executed copies here instead of in place.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Set <c>NORMNB_QUICK=1</c> in the notebook process.</summary>
    public bool Quick { get; init; }

    /// <summary>Run every cell even after one fails, and save the result in place.</summary>
    public bool AllowErrors { get; init; }

    /// <summary>Longest a single cell may run before the notebook process is stopped.</summary>
    public TimeSpan CellTimeout { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>Per-cell cap on text written to stdout and stderr.</summary>
    public long MaxOutputChars { get; init; } = 4 << 20;

    /// <summary>Papermill-style parameters, injected as a cell after the one tagged <c>parameters</c>.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Where progress and live outputs are echoed (null: nowhere).</summary>
    public TextWriter? Echo { get; init; }
}

/// <summary>One cell's part of a run.</summary>
public sealed record CellRun(int Number, double Milliseconds, bool Ok, string? Ename = null, string? Evalue = null);

/// <summary>The summary of one notebook's run, also written as <c>&lt;name&gt;.run.json</c>.</summary>
/// <param name="Notebook">The notebook run.</param>
/// <param name="Output">Where the executed notebook was written, or null when it could not be read.</param>
/// <param name="Ok">Every code cell ran without an error output.</param>
/// <param name="Completed">Every code cell ran (errors allowed): no format error, timeout or crash, and no stop at an error.</param>
/// <param name="Error">A notebook-level failure (format error, timeout, crash), or null.</param>
/// <param name="Seconds">Wall time of the whole run.</param>
/// <param name="Cells">Per code cell: time and outcome.</param>
/// <param name="Claims">The claims the notebook displayed under <see cref="NotebookRunner.ClaimsMimeType"/>.</param>
public sealed record NotebookRunResult(
    string Notebook, string? Output, bool Ok, bool Completed, string? Error, double Seconds, IReadOnlyList<CellRun> Cells, JsonArray Claims)
{
    /// <summary>The first failure as "cell N: ename: evalue", or the format error.</summary>
    public string? FirstFailure => Error ?? (Cells.FirstOrDefault(c => !c.Ok) is { } cell ? $"cell {cell.Number}: {cell.Ename}: {FirstLine(cell.Evalue)}" : null);

    private static string FirstLine(string? text) => (text ?? "").Split('\n')[0];
}

/// <summary>
/// Runs notebooks headless: each in its own child process (isolation of static and native state; a cell past its
/// timeout is stopped by ending that process), outputs gathered from the child's events into the notebook, which
/// is written atomically — in place only after a successful run (or with <see cref="RunOptions.AllowErrors"/>).
/// </summary>
public sealed class NotebookRunner(RunOptions options)
{
    /// <summary>MIME type under which a notebook displays its machine-readable claims table.</summary>
    public const string ClaimsMimeType = "application/vnd.normnotebooks.claims+json";

    private static readonly JsonSerializerOptions SummaryJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Runs one notebook; never throws for a bad notebook (the result says what went wrong).</summary>
    public async Task<NotebookRunResult> RunAsync(string path)
    {
        var full = Path.GetFullPath(path);
        var clock = Stopwatch.StartNew();
        Notebook notebook;
        try
        {
            notebook = Notebook.Load(full);
        }
        catch (NotebookFormatException e)
        {
            options.Echo?.WriteLine($"  ✗ {e.Message}");
            return Finish(new NotebookRunResult(full, null, false, false, e.Message, clock.Elapsed.TotalSeconds, [], []), full);
        }

        InjectParameters(notebook);
        notebook.ClearOutputs();
        var codeCells = notebook.Cells.Where(c => c.CellType == "code").ToList();
        var request = new HostRequest(Path.GetDirectoryName(full)!,
            codeCells.Select(c => new HostCell(c.Number, c.Source, c.MetadataKernel ?? notebook.DefaultKernel)).ToList(),
            StopOnError: !options.AllowErrors, options.MaxOutputChars);
        var collector = new OutputCollector(notebook, codeCells.Count, options.Echo);
        var processError = await RunHostAsync(request, collector);
        collector.Complete();

        var completed = processError is null && collector.Cells.Count == codeCells.Count;
        var ok = completed && collector.Cells.All(c => c.Ok);
        var target = options.OutputDirectory is { } dir ? Path.Combine(Path.GetFullPath(dir), Path.GetFileName(full))
            : ok || (options.AllowErrors && completed) ? full
            : Path.Combine(RunFolder(full), Path.GetFileNameWithoutExtension(full) + ".failed.ipynb");
        notebook.Save(target);
        return Finish(new NotebookRunResult(full, target, ok, completed, processError, clock.Elapsed.TotalSeconds, collector.Cells, collector.Claims), full);
    }

    private NotebookRunResult Finish(NotebookRunResult result, string notebookPath)
    {
        var folder = options.OutputDirectory is { } dir ? Path.GetFullPath(dir) : RunFolder(notebookPath);
        Directory.CreateDirectory(folder);
        var summary = Path.Combine(folder, Path.GetFileNameWithoutExtension(notebookPath) + ".run.json");
        File.WriteAllText(summary, JsonSerializer.Serialize(result, SummaryJson));
        return result;
    }

    /// <summary>Where in-place runs keep summaries and failed copies: <c>.runs/</c> beside the notebook.</summary>
    public static string RunFolder(string notebookPath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(notebookPath))!, ".runs");

    private void InjectParameters(Notebook notebook)
    {
        if (options.Parameters.Count == 0)
            return;
        var lines = options.Parameters.Select(p => $"var {p.Key} = {CSharpLiteral(p.Value)};");
        var source = "// Parameters injected by normnb run -p\n" + string.Join("\n", lines);
        var anchor = notebook.Cells.FirstOrDefault(c => c.Tags.Contains("parameters"));
        notebook.InsertCodeCell(anchor is null ? 0 : anchor.Number, source, ["injected-parameters"]);
    }

    /// <summary>A parameter value as C#: integers and floating-point numbers and booleans as such, anything else as a string.</summary>
    public static string CSharpLiteral(string value)
    {
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            return integer >= int.MinValue && integer <= int.MaxValue ? integer.ToString(CultureInfo.InvariantCulture) : integer.ToString(CultureInfo.InvariantCulture) + "L";
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var real) && double.IsFinite(real))
        {
            var text = real.ToString("R", CultureInfo.InvariantCulture);
            return text.Contains('.') || text.Contains('E') ? text : text + ".0";
        }
        if (value is "true" or "false")
            return value;
        return JsonSerializer.Serialize(value);   // a C#-compatible string literal for printable text
    }

    private async Task<string?> RunHostAsync(HostRequest request, OutputCollector collector)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = request.WorkingDirectory,
        };
        start.ArgumentList.Add(typeof(NotebookRunner).Assembly.Location);
        start.ArgumentList.Add("host");
        if (options.Quick)
            start.Environment["NORMNB_QUICK"] = "1";
        foreach (var (name, value) in options.Parameters)
            start.Environment[$"NORMNB_PARAM_{name.ToUpperInvariant()}"] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the notebook process (dotnet).");
        await process.StandardInput.WriteAsync(JsonSerializer.Serialize(request, ProtocolJson.Options));
        process.StandardInput.Close();

        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
                collector.Native(line + "\n");
        });
        var timedOut = false;
        using var watchdog = new Timer(_ =>
        {
            if (collector.CurrentCellElapsed > options.CellTimeout && !process.HasExited)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
            }
        }, null, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200));

        var sawDone = false;
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            HostEvent? e;
            try
            {
                e = JsonSerializer.Deserialize<HostEvent>(line, ProtocolJson.Options);
            }
            catch (JsonException)
            {
                collector.Native(line + "\n");
                continue;
            }
            if (e is null)
                continue;
            sawDone |= e.Type == "done";
            collector.Handle(e);
        }
        await process.WaitForExitAsync();
        await stderr;
        if (timedOut)
        {
            var message = $"Cell {collector.CurrentCell} did not finish within {options.CellTimeout.TotalSeconds:0.#} s; the notebook process was stopped (--timeout).";
            collector.FailCurrent("CellTimeout", message);
            return message;
        }
        if (!sawDone)
        {
            var message = $"The notebook process ended unexpectedly (exit code {process.ExitCode}) during cell {collector.CurrentCell}.";
            collector.FailCurrent("NotebookProcessExited", message);
            return message;
        }
        return null;
    }
}
