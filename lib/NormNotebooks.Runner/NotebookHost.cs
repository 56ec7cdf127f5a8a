// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Markdig;
using Microsoft.DotNet.Interactive.Formatting;
using NormNotebooks.Interactive;

namespace NormNotebooks.Runner;

/// <summary>
/// Runs a notebook's code cells inside the notebook process and reports every output as a <see cref="HostEvent"/>.
/// This is the execution engine; <see cref="NotebookRunner"/> (the parent) turns the events into a notebook.
/// </summary>
public sealed class NotebookHost
{
    private static readonly MarkdownPipeline Markdown = new MarkdownPipelineBuilder().UseMathematics().UseAdvancedExtensions().Build();

    private readonly Action<HostEvent> _emit;
    private readonly CellOutput _output;
    private int _cell;

    /// <summary>Creates a host that sends events to <paramref name="emit"/>.</summary>
    public NotebookHost(Action<HostEvent> emit)
    {
        _emit = emit;
        _output = new CellOutput((stream, text) => _emit(new HostEvent("stream", _cell, Name: stream, Text: text)));
    }

    /// <summary>Runs the request's cells in order; returns true when every cell succeeded.</summary>
    public async Task<bool> RunAsync(HostRequest request)
    {
        Directory.SetCurrentDirectory(request.WorkingDirectory);
        Formatter.SetPreferredMimeTypesFor(typeof(string), PlainTextFormatter.MimeType);
        ChartFormatters.Register();
        TensorFormatter.Register();
        Console.SetOut(_output.Out);
        Console.SetError(_output.Error);
        DisplayChannel.Sink = display =>
        {
            _output.Flush();
            _emit(new HostEvent(display.IsUpdate ? "update" : "display", _cell, DisplayId: display.DisplayId,
                Data: display.Values.ToDictionary(v => v.MimeType, v => v.Value)));
        };

        var kernel = new ScriptKernel(request.WorkingDirectory);
        using var packages = new PackageResolver(request.WorkingDirectory);
        var executionCount = 0;
        var allOk = true;
        foreach (var cell in request.Cells)
        {
            _cell = cell.Number;
            _output.Reset(cell.Number, request.MaxOutputChars);
            _emit(new HostEvent("started", cell.Number));
            executionCount++;
            var clock = Stopwatch.StartNew();
            var ok = await RunCellAsync(cell, kernel, packages, executionCount);
            _output.Flush();
            _emit(new HostEvent("finished", cell.Number, ExecutionCount: executionCount, Milliseconds: clock.Elapsed.TotalMilliseconds, Ok: ok));
            allOk &= ok;
            if (!ok && request.StopOnError)
                break;
        }
        _emit(new HostEvent("done", _cell, Ok: allOk));
        return allOk;
    }

    private async Task<bool> RunCellAsync(HostCell cell, ScriptKernel kernel, PackageResolver packages, int executionCount)
    {
        var plan = CellParser.Parse(cell.Source, cell.Kernel, cell.Number);
        if (plan.Kind == CellKind.Unsupported)
            return Fail("MagicCommandError", plan.Error!, [plan.Error!]);
        if (plan.Kind == CellKind.Markdown)
        {
            Emit("display", new Dictionary<string, string> { ["text/html"] = Markdig.Markdown.ToHtml(plan.Code, Markdown), ["text/plain"] = plan.Code });
            return true;
        }

        var clock = Stopwatch.StartNew();
        if (plan.Packages.Count > 0 || plan.Sources.Count > 0)
        {
            try
            {
                var restore = packages.Restore(plan.Packages, plan.Sources);
                kernel.AddReferences(restore.NewReferences);
                Emit("display", InstalledPackagesMessage(restore.Installed, plan.Sources));
            }
            catch (PackageRestoreException e)
            {
                return Fail("PackageRestoreError", e.Message, [$"Cell {cell.Number}: {e.Message.Split('\n')[0]}", .. e.Message.Split('\n').Skip(1)]);
            }
        }

        var result = await kernel.RunAsync(plan.Code, cell.Number);
        _output.Flush();
        if (result.Diagnostics.Count > 0)
        {
            var evalue = string.Join("\n", result.Diagnostics);
            return Fail("CompilationError", evalue, [$"Cell {cell.Number}, line {result.ErrorLine}: compilation failed", .. result.Diagnostics]);
        }
        if (result.Exception is OutputLimitExceededException limit)   // thrown into the cell by its Console writes
            return Fail("OutputLimitExceeded", limit.Message, [$"Cell {cell.Number}: {limit.Message}"]);
        if (result.Exception is { } exception)
        {
            var where = result.ErrorLine is { } line ? $"Cell {cell.Number}, line {line}" : $"Cell {cell.Number}";
            return Fail(exception.GetType().FullName ?? "Exception", exception.Message,
                [$"{where}: {exception.GetType().FullName}: {exception.Message}", .. TrimStack(exception.ToString())]);
        }
        if (result.HasReturnValue && result.ReturnValue is not Microsoft.DotNet.Interactive.DisplayedValue)
        {
            var values = DisplayChannel.Format(result.ReturnValue, []);
            _emit(new HostEvent("result", cell.Number, Data: values.ToDictionary(v => v.MimeType, v => v.Value), ExecutionCount: executionCount));
        }
        if (plan.Time)
            Emit("display", new Dictionary<string, string> { ["text/plain"] = $"Wall time: {clock.Elapsed.TotalMilliseconds}ms" });
        return true;
    }

    private void Emit(string type, Dictionary<string, string> data) =>
        _emit(new HostEvent(type, _cell, DisplayId: Guid.NewGuid().ToString("N"), Data: data));

    private bool Fail(string ename, string evalue, IReadOnlyList<string> traceback)
    {
        _output.Flush();
        _emit(new HostEvent("error", _cell, Ename: ename, Evalue: evalue, Traceback: traceback));
        return false;
    }

    /// <summary>The exception text without the runner's own frames (everything below the cell's submission).</summary>
    private static IEnumerable<string> TrimStack(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r'))
            .TakeWhile(l => !l.Contains("Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal)
                            && !l.Contains("NormNotebooks.Runner.", StringComparison.Ordinal))
            .Reverse().SkipWhile(l => l.Contains("End of stack trace from previous location", StringComparison.Ordinal)).Reverse();

    private static Dictionary<string, string> InstalledPackagesMessage(IReadOnlyList<PackageRequest> installed, IReadOnlyList<string> sources)
    {
        var items = string.Concat(installed.Select(p => $"<li><span>{WebUtility.HtmlEncode(p.ToString())}</span></li>"));
        var html = $"<div><div><strong>Installed Packages</strong><ul>{items}</ul></div></div>";
        var text = "Installed Packages\n" + string.Concat(installed.Select(p => $"  - {p}\n"));
        if (sources.Count > 0)
        {
            html = html[..^6] + $"<div><strong>Restore sources</strong><ul>{string.Concat(sources.Select(s => $"<li><span>{WebUtility.HtmlEncode(s)}</span></li>"))}</ul></div></div>";
            text += "Restore sources\n" + string.Concat(sources.Select(s => $"  - {s}\n"));
        }
        return new Dictionary<string, string> { ["text/html"] = html, ["text/plain"] = text.TrimEnd('\n') };
    }

    /// <summary>The notebook process: reads one <see cref="HostRequest"/> from stdin, writes events to <paramref name="events"/>.</summary>
    public static async Task<int> MainAsync(TextReader input, TextWriter events)
    {
        var request = JsonSerializer.Deserialize<HostRequest>(await input.ReadToEndAsync(), ProtocolJson.Options)
            ?? throw new InvalidDataException("normnb notebook process: empty request on stdin.");
        var gate = new Lock();
        var host = new NotebookHost(e =>
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
