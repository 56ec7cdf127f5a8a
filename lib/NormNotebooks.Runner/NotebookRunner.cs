// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;
using System.Text;
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

    /// <summary>Per-cell cap on output characters: streams, displays and results together.</summary>
    public long MaxOutputChars { get; init; } = 16 << 20;

    /// <summary>Papermill-style parameters, injected as a cell after the one tagged <c>parameters</c>.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Where progress and live outputs are echoed (null: nowhere).</summary>
    public TextWriter? Echo { get; init; }

    /// <summary>Stops the running notebook (its process is ended, the running cell gets an <c>Interrupted</c> error, the partial
    /// copy and the summary are written as for any failure): how <c>normnb run</c> answers SIGINT and SIGTERM.</summary>
    public CancellationToken Interrupt { get; init; }

    /// <summary>How long the notebook process may take to reach its first cell (process start, the kernel's construction).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the notebook process may take to end after its last cell before it is stopped (a thread that never ends).</summary>
    public TimeSpan ExitGrace { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>One cell's part of a run.</summary>
public sealed record CellRun(int Number, double Milliseconds, bool Ok, string? Ename = null, string? Evalue = null);

/// <summary>The summary of one notebook's run, also written as <c>&lt;name&gt;.run.json</c>.</summary>
/// <param name="Notebook">The notebook run.</param>
/// <param name="Output">Where the executed notebook was written, or null when it was not run.</param>
/// <param name="Ok">Every code cell ran without an error output.</param>
/// <param name="Completed">Every code cell ran (errors allowed): no format error, timeout or crash, and no stop at an error.</param>
/// <param name="Error">A notebook-level failure (format error, refusal, timeout, crash), or null.</param>
/// <param name="Seconds">Wall time of the whole run.</param>
/// <param name="Cells">Per code cell: time and outcome.</param>
/// <param name="Claims">The claims the notebook displayed under <see cref="NotebookRunner.ClaimsMimeType"/>.</param>
/// <param name="SaveProblem">Why the executed notebook is not where it was to go (the file changed during the run, the
/// folder cannot be written) and where it is instead, or null.</param>
/// <param name="Warnings">What the run could not do fully without failing, e.g. a chart without its static image.</param>
public sealed record NotebookRunResult(
    string Notebook, string? Output, bool Ok, bool Completed, string? Error, double Seconds, IReadOnlyList<CellRun> Cells, JsonArray Claims,
    string? SaveProblem = null, IReadOnlyList<string>? Warnings = null)
{
    /// <summary>The first failure as "cell N: ename: evalue", or the format error.</summary>
    public string? FirstFailure => Error ?? (Cells.FirstOrDefault(c => !c.Ok) is { } cell ? $"cell {cell.Number}: {cell.Ename}: {FirstLine(cell.Evalue)}" : null);

    /// <summary>Why the notebook did not pass, or null when it did: it failed (unless errors were allowed and every cell ran),
    /// or its results are not where they were to go.</summary>
    public string? Failure(bool allowErrors) => Ok || (allowErrors && Completed) ? SaveProblem : FirstFailure;

    private static string FirstLine(string? text) => (text ?? "").Split('\n')[0];
}

/// <summary>
/// Runs notebooks headless: each in its own child process (isolation of static and native state; a cell past its
/// timeout is stopped by ending that process), outputs gathered from the child's events into the notebook, which
/// is written atomically — in place only after a successful run (or with <see cref="RunOptions.AllowErrors"/>), and
/// only if the file still holds what was read. Nothing is lost: results that cannot go where they were to go are
/// written to a conflict copy or a temporary folder, and the run says where.
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
        var elsewhere = new Lazy<string>(() => Directory.CreateTempSubdirectory($"normnb-{Path.GetFileNameWithoutExtension(full)}-").FullName);
        NotebookRunResult Refuse(string message)
        {
            options.Echo?.WriteLine($"  ✗ {message}");
            return Finish(new NotebookRunResult(full, null, false, false, message, clock.Elapsed.TotalSeconds, [], []), full, elsewhere);
        }

        Notebook notebook;
        try
        {
            notebook = Notebook.Load(full);
        }
        catch (NotebookFormatException e)
        {
            return Refuse(e.Message);
        }
        var refusal = options.OutputDirectory is { } folder ? OutputConflict([full], folder)
            : AtomicFile.ReadOnlyReason(full) is { } reason ? $"{full} is read-only ({reason}); normnb run writes outputs into the notebook: make it writable, or write a copy with --output DIR."
            : null;
        if (refusal is not null)
            return Refuse(refusal);

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
        var (output, problem) = Save(notebook, inPlace: ok || (options.AllowErrors && completed), elsewhere);
        if (problem is not null)
            options.Echo?.WriteLine($"  ✗ {problem}");
        return Finish(new NotebookRunResult(full, output, ok, completed, processError, clock.Elapsed.TotalSeconds, collector.Cells, collector.Claims, problem, collector.Warnings),
            full, elsewhere);
    }

    /// <summary>
    /// Why writing copies of <paramref name="notebooks"/> to <paramref name="outputDirectory"/> would overwrite one of them, or
    /// write two to one file; null when it would not. Symlinks are followed: a link to a notebook's folder is that folder.
    /// </summary>
    public static string? OutputConflict(IReadOnlyList<string> notebooks, string outputDirectory)
    {
        var sources = new Dictionary<string, string>();
        foreach (var notebook in notebooks)
            sources.TryAdd(AtomicFile.RealPath(notebook), Path.GetFullPath(notebook));
        var copies = new Dictionary<string, string>();
        foreach (var notebook in notebooks)
        {
            var copy = Path.Combine(Path.GetFullPath(outputDirectory), Path.GetFileName(notebook));
            var target = AtomicFile.RealPath(copy);
            if (sources.TryGetValue(target, out var source))
                return $"--output {outputDirectory} would overwrite {source}; write the copies to a folder that holds none of the notebooks run.";
            if (!copies.TryAdd(target, Path.GetFullPath(notebook)))
                return $"{copies[target]} and {Path.GetFullPath(notebook)} would both be written to {copy}; run them with different --output folders.";
        }
        return null;
    }

    /// <summary>
    /// Writes the executed notebook: to --output; else in place when it passed and the file still holds what was read,
    /// to <c>.runs/NAME.conflict.ipynb</c> when it does not, and to <c>.runs/NAME.failed.ipynb</c> when it failed.
    /// Returns where it went, and why that is not where it was to go.
    /// </summary>
    private (string Output, string? Problem) Save(Notebook notebook, bool inPlace, Lazy<string> elsewhere)
    {
        var bytes = notebook.ToBytes();
        var stem = Path.GetFileNameWithoutExtension(notebook.Path);
        if (options.OutputDirectory is { } folder)
            return SaveTo(Path.Combine(Path.GetFullPath(folder), Path.GetFileName(notebook.Path)), bytes, elsewhere);
        if (!inPlace)
            return SaveTo(Path.Combine(RunFolder(notebook.Path), stem + ".failed.ipynb"), bytes, elsewhere);
        if (TrySaveTo(notebook.Path, bytes, elsewhere, expected: notebook.Bytes) is { } saved)
            return saved;
        var (conflict, _) = SaveTo(Path.Combine(RunFolder(notebook.Path), stem + ".conflict.ipynb"), bytes, elsewhere);
        return (conflict, $"{notebook.Path} changed on disk during the run and is left as it is; results in {conflict}");
    }

    private static (string Output, string? Problem) SaveTo(string path, byte[] bytes, Lazy<string> elsewhere) =>
        TrySaveTo(path, bytes, elsewhere, expected: null) ?? throw new UnreachableException("with nothing expected, the file is always written");

    /// <summary>Writes <paramref name="path"/>, or a file of its name in a new temporary folder when its folder cannot be written;
    /// returns where it went and why not to <paramref name="path"/>, or null when the file no longer holds <paramref name="expected"/>.</summary>
    private static (string Output, string? Problem)? TrySaveTo(string path, byte[] bytes, Lazy<string> elsewhere, byte[]? expected)
    {
        var folder = Path.GetDirectoryName(AtomicFile.RealPath(path))!;
        var reason = AtomicFile.ReadOnlyReason(folder) is { } readOnly ? $"read-only: {readOnly}" : null;
        if (reason is null)
        {
            try
            {
                return AtomicFile.Write(path, bytes, expected) ? (path, null) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                reason = e is UnauthorizedAccessException ? "permission denied" : e.Message;
            }
        }
        var instead = Path.Combine(elsewhere.Value, Path.GetFileName(path));
        AtomicFile.Write(instead, bytes);
        return (instead, $"cannot write in {folder} ({reason}); results in {instead}");
    }

    private NotebookRunResult Finish(NotebookRunResult result, string notebookPath, Lazy<string> elsewhere)
    {
        var folder = options.OutputDirectory is { } dir ? Path.GetFullPath(dir) : RunFolder(notebookPath);
        var summary = Path.Combine(folder, Path.GetFileNameWithoutExtension(notebookPath) + ".run.json");
        var (_, problem) = SaveTo(summary, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(result, SummaryJson)), elsewhere);
        if (problem is not null && result.SaveProblem is null)
            options.Echo?.WriteLine($"  ✗ {problem}");
        return result;
    }

    /// <summary>Where in-place runs keep summaries, failed copies and conflict copies: <c>.runs/</c> beside the notebook.</summary>
    public static string RunFolder(string notebookPath) => Path.Combine(Path.GetDirectoryName(Path.GetFullPath(notebookPath))!, ".runs");

    private void InjectParameters(Notebook notebook)
    {
        if (options.Parameters.Count == 0)
            return;
        var lines = options.Parameters.Select(p => $"var {p.Key} = {CSharpLiteral(p.Value)};");
        var source = "// Parameters injected by normnb run -p\n" + string.Join("\n", lines);
        var anchor = notebook.Cells.FirstOrDefault(c => c.Tags.Contains("parameters"));
        notebook.InsertCodeCell(anchor is null ? 0 : anchor.Number, source, ["injected-parameters"], id: "injected-parameters");
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

    /// <summary>The glibc tunable that gives every thread the process's main malloc arena: <paramref name="tunables"/> (the
    /// colon-separated <c>GLIBC_TUNABLES</c>) with <c>glibc.malloc.arena_max=1</c> added, unless it sets arena_max already.
    /// Cells run on threads other than the process's first; glibc gives those their own arenas, whose heaps hold at most 64 MiB,
    /// so a larger tensor allocated there is mapped fresh and unmapped on free whatever the library's thresholds, and pays a
    /// page fault per 4 KiB on every allocation (a 64 MiB torch.softmax output: 13 ms in one arena, 210 ms without, in notebook 22).
    /// glibc reads tunables only at process start, hence here and not in the library.</summary>
    public static string WithOneMallocArena(string? tunables) =>
        string.IsNullOrEmpty(tunables) ? "glibc.malloc.arena_max=1"
        : tunables.Split(':').Any(t => t.StartsWith("glibc.malloc.arena_max=", StringComparison.Ordinal)) ? tunables
        : tunables + ":glibc.malloc.arena_max=1";

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
        if (Environment.GetEnvironmentVariable("NORMNB_MALLOC") != "system")
            start.Environment["GLIBC_TUNABLES"] = WithOneMallocArena(Environment.GetEnvironmentVariable("GLIBC_TUNABLES"));

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the notebook process (dotnet).");
        await process.StandardInput.WriteAsync(JsonSerializer.Serialize(request, ProtocolJson.Options));
        process.StandardInput.Close();

        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
                collector.Native(line + "\n");
        });
        var timedOut = false;
        var startTimedOut = false;
        var sinceStart = Stopwatch.StartNew();
        var lingered = false;
        var interrupted = false;
        Stopwatch? sinceDone = null;
        void Stop()
        {
#pragma warning disable CA1031 // runs on a timer thread or inside a signal handler: it has just ended, or a descendant cannot be killed
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (Exception)
            {
                // Walking the process tree can fail while other processes come and go; the notebook process itself must still end.
                try
                {
                    process.Kill();
                }
                catch (Exception)
                {
                }
            }
#pragma warning restore CA1031
        }
        await using var watchdog = new Timer(_ =>
        {
            if (process.HasExited)
                return;
            if (interrupted)
                Stop();   // a stop signal was received and the process still runs: the first kill did not take, try again
            else if (collector.CurrentCellElapsed > options.CellTimeout)
            {
                timedOut = true;
                Stop();
            }
            else if (collector.CurrentCell == 0 && sinceStart.Elapsed > options.StartTimeout)
            {
                startTimedOut = true;
                Stop();
            }
            else if (sinceDone?.Elapsed > options.ExitGrace)
            {
                lingered = true;
                Stop();
            }
        }, null, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(200));
        using var interruption = options.Interrupt.Register(() =>
        {
            interrupted = true;
            Stop();
        });

        var sawDone = false;
        var events = Task.Run(async () =>
        {
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
                if (e.Type == "done")
                {
                    sawDone = true;
                    sinceDone = Stopwatch.StartNew();
                }
                collector.Handle(e);
            }
        });
        await process.WaitForExitAsync();
        // A process a cell started may still hold the notebook process's stderr: give the readers a moment, not forever.
        await Task.WhenAny(Task.WhenAll(events, stderr), Task.Delay(TimeSpan.FromSeconds(5)));
        if (events.IsFaulted)
            await events;   // a bug of the runner's, not of the notebook: report it
        if (interrupted && !sawDone)
        {
            var message = $"Interrupted during cell {collector.CurrentCell}: normnb run received a stop signal (SIGINT or SIGTERM) and stopped the notebook process.";
            collector.FailCurrent("Interrupted", message);
            return message;
        }
        if (startTimedOut)
            return $"The notebook process did not start its first cell within {options.StartTimeout.TotalSeconds:0.#} s (--start-timeout) and was stopped.";
        if (lingered)
            collector.Warnings.Add($"the notebook process did not end within {options.ExitGrace.TotalSeconds:0} s after its last cell (a thread that never ends?) and was stopped; every cell had finished");
        if (timedOut)
        {
            var message = $"Cell {collector.CurrentCell} did not finish within {options.CellTimeout.TotalSeconds:0.#} s; the notebook process was stopped (--timeout).";
            collector.FailCurrent("CellTimeout", message);
            return message;
        }
        if (!sawDone)
        {
            var message = $"The notebook process ended unexpectedly during cell {collector.CurrentCell}: {ExitCodeMeaning(process.ExitCode)}.";
            collector.FailCurrent("NotebookProcessExited", message);
            return message;
        }
        return null;
    }

    // .NET reports a child ended by signal N as exit code 128 + N.
    private static string ExitCodeMeaning(int code) => code switch
    {
        134 => "exit code 134, stack overflow or abort (SIGABRT)",
        137 => "exit code 137, killed (SIGKILL), probably out of memory",
        _ => $"exit code {code}",
    };
}
