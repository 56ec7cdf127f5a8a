// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.Commands;
using Microsoft.DotNet.Interactive.CSharp;
using Microsoft.DotNet.Interactive.Events;
using Microsoft.DotNet.Interactive.Formatting;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace NormNotebooks.Runner;

/// <summary>Thrown into a cell whose outputs exceed the per-cell cap (<c>--max-output</c>).</summary>
public sealed class OutputLimitExceededException(string message) : IOException(message);

/// <summary>
/// Runs a notebook's code cells inside the notebook process on .NET Interactive's own C# kernel (the kernel behind VS Code's
/// Polyglot Notebooks and the Jupyter kernel <c>.net-csharp</c>) and reports every output as a <see cref="HostEvent"/>.
/// <see cref="NotebookRunner"/> (the parent process) turns the events into a notebook.
/// </summary>
/// <remarks>
/// The kernel is a <c>CompositeKernel</c> holding a <c>CSharpKernel</c> with the kernel helpers (<c>display</c>, <c>HTML</c>,
/// …), value sharing (<c>#!set</c>, <c>#!share</c>) and <c>#r "nuget:"</c>, plus the HTML, JavaScript and value kernels that
/// ship in the same package. Packages that carry a kernel extension (<c>interactive-extensions/dotnet</c>, e.g.
/// Plotly.NET.Interactive) have it loaded as the tool does. Kernels the tool adds from other packages (F#, PowerShell, …) are
/// not there: a cell for them fails with the kernel's own error.
/// </remarks>
public sealed partial class NotebookHost : IDisposable
{
    private const string NoteMime = PlainTextFormatter.MimeType;

    private readonly Action<HostEvent> _emit;
    private readonly CompositeKernel _kernel;
    private readonly CSharpKernel _csharp;
    private readonly Dictionary<string, long> _displaySizes = [];
    private readonly Lock _gate = new();
    private int _cell;
    private int _executionCount;
    private long _cap = long.MaxValue;
    private long _written;
    private string? _limit;

    /// <summary>Creates a host that sends events to <paramref name="emit"/>; the kernel resolves relative paths against the current directory.</summary>
    public NotebookHost(Action<HostEvent> emit)
    {
        _emit = emit;
        // Values show as HTML for front-ends and as text for logs, diffs and text exports (the kernel alone gives most types HTML only).
        Formatter.SetPreferredMimeTypesFor(typeof(object), HtmlFormatter.MimeType, PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(typeof(string), PlainTextFormatter.MimeType);

        var csharp = new CSharpKernel().UseKernelHelpers().UseValueSharing();
        _csharp = csharp;
        csharp.UseNugetDirective(async (kernel, resolved) =>
        {
            kernel.AddAssemblyReferences(resolved.SelectMany(r => r.AssemblyPaths));
            foreach (var package in resolved)
                await ExtensionLoader.LoadAsync(package, kernel.RootKernel);
        });
        _kernel = new CompositeKernel { csharp, new HtmlKernel(), new JavaScriptKernel(), new KeyValueStoreKernel() };
        _kernel.DefaultKernelName = csharp.Name;
        JupyterMagics.AddTo(_kernel);
        _kernel.KernelEvents.Subscribe(OnEvent);
    }

    /// <summary>
    /// Run before the first cell: <c>display(…)</c> as the kernel helpers define it, except that the value it returns is the one it
    /// published. The kernel's own (Microsoft.DotNet.Interactive 1.0.0-beta.26120.1) publishes one DisplayedValue and returns another
    /// with a different id, so <c>display(x).Update(y)</c> reached no output (in the tool under Jupyter the update is dropped). A method
    /// of the script takes precedence over the helpers' <c>using static</c>, and a cell may still define its own.
    /// </summary>
    internal const string Prelude = """
        Microsoft.DotNet.Interactive.Formatting.DisplayedValue display(object value, params string[] mimeTypes) =>
            Microsoft.DotNet.Interactive.KernelInvocationContextExtensions.Display(Microsoft.DotNet.Interactive.KernelInvocationContext.Current, value, mimeTypes);
        """;

    /// <summary>Runs the request's cells in order; returns true when every cell succeeded.</summary>
    public async Task<bool> RunAsync(HostRequest request)
    {
        var prelude = await _kernel.SendAsync(new SubmitCode(Prelude));
        if (prelude.Events.OfType<CommandFailed>().FirstOrDefault() is { } failed)
            throw new InvalidOperationException($"normnb's kernel prelude failed: {failed.Message}");
        var executionCount = 0;
        var allOk = true;
        foreach (var cell in request.Cells)
        {
            executionCount++;
            lock (_gate)
                (_cell, _executionCount, _cap, _written, _limit) = (cell.Number, executionCount, request.MaxOutputChars, 0, null);
            _emit(new HostEvent("started", cell.Number));
            var clock = Stopwatch.StartNew();
            CellSource.Name(_csharp, cell.Number);
            var result = await _kernel.SendAsync(new SubmitCode(cell.Source, cell.Kernel));
            var ok = Report(cell, result);
            _emit(new HostEvent("finished", cell.Number, ExecutionCount: executionCount, Milliseconds: clock.Elapsed.TotalMilliseconds, Ok: ok));
            allOk &= ok;
            if (!ok && request.StopOnError)
                break;
        }
        _emit(new HostEvent("done", _cell, Ok: allOk));
        return allOk;
    }

    /// <inheritdoc />
    public void Dispose() => _kernel.Dispose();

    // Kernel events arrive on the thread that raised them (a cell's Console.Write, display call or return), so throwing here stops the
    // cell: that is how the output cap ends a runaway loop.
    private void OnEvent(KernelEvent e)
    {
        switch (e)
        {
            case StandardOutputValueProduced output:
                Stream("stdout", Plain(output.FormattedValues));
                break;
            case StandardErrorValueProduced output:
                Stream("stderr", Plain(output.FormattedValues));
                break;
            case ErrorProduced error when error.Command is not SubmitCode:
                Stream("stderr", error.Message + "\n");
                break;
            case DisplayedValueProduced display:
                Publish("display", display.ValueId, display.FormattedValues, null);
                break;
            case DisplayedValueUpdated update:
                // x.Display() (Formatting 1.0.0-beta.26120.1) returns a DisplayedValue whose id differs from the one it published (the
                // package builds two objects; display() is mended by the Prelude), so its first update names an id no output has:
                // show it as a new output, which later updates replace in place, rather than lose it.
                bool known;
                lock (_gate)
                    known = _displaySizes.ContainsKey(update.ValueId);
                Publish(known ? "update" : "display", update.ValueId, update.FormattedValues, null);
                break;
            case ReturnValueProduced value when value.Command is SubmitCode:
                Publish("result", null, value.FormattedValues, _executionCount);
                break;
        }
    }

    private void Stream(string name, string text)
    {
        if (text.Length == 0)
            return;
        lock (_gate)
        {
            if (_limit is not null)
                throw new OutputLimitExceededException(_limit);
            var room = _cap - _written;
            _written += text.Length;
            if (text.Length <= room)
            {
                _emit(new HostEvent("stream", _cell, Name: name, Text: text));
                return;
            }
            _limit = LimitMessage(name);
            _emit(new HostEvent("stream", _cell, Name: name,
                Text: text[..(int)room] + string.Create(CultureInfo.InvariantCulture, $"\n[normnb: output truncated: cell {_cell} wrote more than {_cap:N0} characters]\n")));
            throw new OutputLimitExceededException(_limit);
        }
    }

    private void Publish(string type, string? displayId, IReadOnlyCollection<FormattedValue> values, int? executionCount)
    {
        var data = new Dictionary<string, string>(StringComparer.Ordinal);
        // A formatter that could not render (a chart image without a browser) leaves its value empty: leave that type out.
        foreach (var value in values.Where(v => !v.SuppressDisplay && (!string.IsNullOrEmpty(v.Value) || v.MimeType == PlainTextFormatter.MimeType)))
            data.TryAdd(value.MimeType, value.Value ?? "");
        if (data.Count == 0)
            return;
        lock (_gate)
        {
            if (_limit is not null)
                throw new OutputLimitExceededException(_limit);
            var size = data.Values.Sum(v => (long)v.Length);
            // An update replaces its output: it costs what it adds (a progress line updated every step costs one line).
            _written += type == "update" && displayId is not null && _displaySizes.TryGetValue(displayId, out var before) ? size - before : size;
            if (_written > _cap)
            {
                _limit = LimitMessage(type == "result" ? "its return value" : "a display");
                _emit(new HostEvent("display", _cell, DisplayId: Guid.NewGuid().ToString("N"), Data: new Dictionary<string, string>
                {
                    [NoteMime] = string.Create(CultureInfo.InvariantCulture, $"[normnb: an output of {size:N0} characters was left out: cell {_cell} went over {_cap:N0} characters]"),
                }));
                throw new OutputLimitExceededException(_limit);
            }
            if (displayId is not null)
                _displaySizes[displayId] = size;
            _emit(new HostEvent(type, _cell, DisplayId: displayId, Data: data, ExecutionCount: executionCount));
        }
    }

    private string LimitMessage(string what) => string.Create(CultureInfo.InvariantCulture,
        $"Cell {_cell} wrote more than {_cap:N0} characters (stdout, stderr, displays and results together; last: {what}); outputs are capped per cell (--max-output). The rest was not recorded.");

    private static string Plain(IReadOnlyCollection<FormattedValue> values) =>
        values.FirstOrDefault(v => v.MimeType == PlainTextFormatter.MimeType)?.Value ?? values.FirstOrDefault()?.Value ?? "";

    /// <summary>Turns the command's outcome into the cell's error output; returns whether the cell succeeded.</summary>
    private bool Report(HostCell cell, KernelCommandResult result)
    {
        string? limit;
        lock (_gate)
            limit = _limit;
        var failure = result.Events.OfType<CommandFailed>().LastOrDefault(f => f.Command is SubmitCode);
        if (failure is null && limit is not null)   // the cell caught the exception its output threw: the cap still fails it
        {
            _emit(new HostEvent("error", cell.Number, Ename: "OutputLimitExceeded", Evalue: limit, Traceback: [$"Cell {cell.Number}: {limit}"]));
            return false;
        }
        if (failure is null)
            return true;
        var (ename, evalue, traceback) = Describe(cell.Number, failure, limit);
        _emit(new HostEvent("error", cell.Number, Ename: ename, Evalue: evalue, Traceback: traceback));
        return false;
    }

    /// <summary>The Jupyter error triple of a failed cell: the exception's type as <c>ename</c>, the cell (and line, when known) first in the traceback.</summary>
    internal static (string Ename, string Evalue, IReadOnlyList<string> Traceback) Describe(int cell, CommandFailed failure, string? limit)
    {
        if (limit is not null || failure.Exception is OutputLimitExceededException)
        {
            var message = limit ?? failure.Exception!.Message;
            return ("OutputLimitExceeded", message, [$"Cell {cell}: {message}"]);
        }
        var text = failure.Message ?? failure.Exception?.Message ?? "";
        if (failure.Exception is CodeSubmissionCompilationErrorException || (failure.Exception is null && CompileError().IsMatch(text)))
        {
            // Diagnostics as the tool shows them, "(line,col): error CSxxxx: …", without the file name the cell was compiled under.
            var diagnostics = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(d => CellFile().Replace(d, "(")).ToArray();
            var where = Position().Match(diagnostics.FirstOrDefault() ?? "") is { Success: true } p ? $"Cell {cell}, line {p.Groups["line"].Value}" : $"Cell {cell}";
            var kind = DirectiveError().IsMatch(text) ? "DirectiveError" : "CompilationError";
            return (kind, string.Join("\n", diagnostics), [$"{where}: {(kind == "DirectiveError" ? "the magic command cannot run" : "compilation failed")}", .. diagnostics]);
        }
        if (failure.Exception is null)
        {
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var kind = RestoreError().IsMatch(text) ? "PackageRestoreError" : "KernelError";
            return (kind, text.Trim(), [$"Cell {cell}: {lines.FirstOrDefault()}", .. lines.Skip(1)]);
        }
        var exception = failure.Exception;
        var type = exception.GetType().FullName ?? exception.GetType().Name;
        var head = FaultingLine(exception) switch
        {
            null => $"Cell {cell}",
            var (inCell, line) when inCell == cell => $"Cell {cell}, line {line}",
            var (inCell, line) => $"Cell {cell} (in code from cell {inCell}, line {line})",   // a method an earlier cell defined
        };
        return (type, exception.Message, [$"{head}: {type}: {exception.Message}", .. TrimStack(exception.ToString()).Skip(1)]);
    }

    /// <summary>The line of the deepest frame in the cell's own code ("in cell-N.csx:line L", see <see cref="CellSource"/>).</summary>
    private static (int Cell, int Line)? FaultingLine(Exception exception)
    {
        foreach (var frame in (exception.StackTrace ?? "").Split('\n'))
        {
            var match = FrameLine().Match(frame);
            if (match.Success)
                return (int.Parse(match.Groups["cell"].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups["line"].Value, CultureInfo.InvariantCulture));
        }
        return null;
    }

    /// <summary>The exception text without the kernel's frames (everything below the cell's submission).</summary>
    private static IEnumerable<string> TrimStack(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r'))
            .TakeWhile(l => !l.Contains("Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal)
                            && !l.Contains("Microsoft.DotNet.Interactive", StringComparison.Ordinal))
            .Reverse().SkipWhile(l => l.Contains("End of stack trace from previous location", StringComparison.Ordinal)).Reverse();

    [GeneratedRegex(@"^cell-\d+\.csx\(")]
    private static partial Regex CellFile();

    [GeneratedRegex(@"^(cell-\d+\.csx)?\(\d+,\d+\): error [A-Z]+\d+:", RegexOptions.Multiline)]
    private static partial Regex CompileError();

    [GeneratedRegex(@"^\((?<line>\d+),\d+\)")]
    private static partial Regex Position();

    [GeneratedRegex(@"error DNI\d+:")]
    private static partial Regex DirectiveError();

    [GeneratedRegex(@"error NU\d+|Unable to find package|could not be resolved|cannot be added because version", RegexOptions.IgnoreCase)]
    private static partial Regex RestoreError();

    [GeneratedRegex(@"cell-(?<cell>\d+)\.csx:line (?<line>\d+)\s*$")]
    private static partial Regex FrameLine();

    /// <summary>The notebook process: reads one <see cref="HostRequest"/> from stdin, writes events to <paramref name="events"/>.</summary>
    public static async Task<int> MainAsync(TextReader input, TextWriter events)
    {
        var request = JsonSerializer.Deserialize<HostRequest>(await input.ReadToEndAsync(), ProtocolJson.Options)
            ?? throw new InvalidDataException("normnb notebook process: empty request on stdin.");
        Directory.SetCurrentDirectory(request.WorkingDirectory);
        KernelFolders.SweepStale();
        var gate = new Lock();
        using var host = new NotebookHost(e =>
        {
            lock (gate)
            {
                events.WriteLine(JsonSerializer.Serialize(e, ProtocolJson.Options));
                events.Flush();
            }
        });
        return await host.RunAsync(request) ? 0 : 1;
    }
}
