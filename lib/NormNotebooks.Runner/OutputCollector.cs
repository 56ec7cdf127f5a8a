// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormNotebooks.Runner;

/// <summary>
/// Turns the notebook process's events into nbformat outputs on the notebook's cells (Jupyter's conventions:
/// consecutive text on one stream is one <c>stream</c> output; displays are <c>display_data</c>, updated in place
/// by display id; the trailing expression is <c>execute_result</c> with its execution count; failures are
/// <c>error</c>), and echoes them to the console as they arrive.
/// </summary>
internal sealed class OutputCollector
{
    private readonly Lock _gate = new();
    private readonly Notebook _notebook;
    private readonly int _codeCellCount;
    private readonly TextWriter? _echo;
    private readonly Dictionary<int, JsonArray> _outputs = [];
    private readonly Dictionary<string, JsonObject> _displays = [];
    private readonly List<CellRun> _cells = [];
    private readonly Stopwatch _cellClock = new();
    private int _started;

    public OutputCollector(Notebook notebook, int codeCellCount, TextWriter? echo)
    {
        (_notebook, _codeCellCount, _echo) = (notebook, codeCellCount, echo);
    }

    public IReadOnlyList<CellRun> Cells => _cells;

    public JsonArray Claims { get; } = [];

    /// <summary>Charts without a static image, one line per cell and reason.</summary>
    public List<string> Warnings { get; } = [];

    public int CurrentCell { get; private set; }

    public TimeSpan CurrentCellElapsed => _cellClock.IsRunning ? _cellClock.Elapsed : TimeSpan.Zero;

    public void Handle(HostEvent e)
    {
        lock (_gate)
        {
            switch (e.Type)
            {
                case "started":
                    CurrentCell = e.Cell;
                    _started++;
                    _outputs[e.Cell] = [];
                    _cellClock.Restart();
                    _echo?.WriteLine($"  ▶ cell {e.Cell} ({_started}/{_codeCellCount} code cells)");
                    break;
                case "stream":
                    AppendStream(e.Cell, e.Name ?? "stdout", e.Text ?? "");
                    break;
                case "display":
                case "result":
                    e = e with { Data = WithClaimsText(e.Data) };
                    var output = e.Type == "result"
                        ? new JsonObject { ["data"] = MimeBundle(e.Data), ["execution_count"] = e.ExecutionCount, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result" }
                        : new JsonObject { ["data"] = MimeBundle(e.Data), ["metadata"] = new JsonObject(), ["output_type"] = "display_data" };
                    Cell(e.Cell).Add(output);
                    if (e.DisplayId is { } id)
                        _displays[id] = output;
                    CollectClaims(e.Data);
                    CollectWarnings(e.Cell, e.Data);
                    EchoData(e.Data, e.Type == "result" ? "result" : "display");
                    break;
                case "update":
                    if (e.DisplayId is { } updated && _displays.TryGetValue(updated, out var target))
                        target["data"] = MimeBundle(e.Data);
                    break;
                case "error":
                    Cell(e.Cell).Add(ErrorOutput(e.Ename ?? "Error", e.Evalue ?? "", e.Traceback ?? []));
                    _echo?.WriteLine($"    ✗ {string.Join("\n      ", e.Traceback ?? [e.Evalue ?? ""])}");
                    break;
                case "finished":
                    _cellClock.Stop();
                    var cell = _notebook.Cells[e.Cell - 1];
                    _notebook.SetOutputs(cell, Finalize(Cell(e.Cell)), e.ExecutionCount);
                    var error = Cell(e.Cell).OfType<JsonObject>().FirstOrDefault(o => (string?)o["output_type"] == "error");
                    _cells.Add(new CellRun(e.Cell, e.Milliseconds ?? 0, e.Ok ?? false, (string?)error?["ename"], (string?)error?["evalue"]));
                    _echo?.WriteLine($"  {(e.Ok == true ? "✓" : "✗")} cell {e.Cell} ({(e.Milliseconds ?? 0) / 1000:0.00} s)");
                    break;
            }
        }
    }

    /// <summary>Text the notebook process wrote outside the protocol (native libraries, runtime crashes): stderr of the current cell.</summary>
    public void Native(string text)
    {
        lock (_gate)
        {
            if (CurrentCell > 0 && _cellClock.IsRunning)
                AppendStream(CurrentCell, "stderr", text);
            else
                _echo?.Write("    │ " + text);
        }
    }

    /// <summary>Records a failure the process could not report itself (timeout, crash) on the running cell.</summary>
    public void FailCurrent(string ename, string message)
    {
        lock (_gate)
        {
            if (CurrentCell == 0 || !_cellClock.IsRunning)
                return;
            _cellClock.Stop();
            var outputs = Cell(CurrentCell);
            outputs.Add(ErrorOutput(ename, message, [message]));
            _notebook.SetOutputs(_notebook.Cells[CurrentCell - 1], Finalize(outputs), null);
            _cells.Add(new CellRun(CurrentCell, _cellClock.Elapsed.TotalMilliseconds, false, ename, message));
            _echo?.WriteLine($"    ✗ {message}");
        }
    }

    public void Complete() => _cellClock.Stop();

    private JsonArray Cell(int number) => _outputs.TryGetValue(number, out var outputs) ? outputs : _outputs[number] = [];

    private void AppendStream(int cell, string name, string text)
    {
        var outputs = Cell(cell);
        if (outputs.Count > 0 && outputs[^1] is JsonObject last && (string?)last["output_type"] == "stream" && (string?)last["name"] == name)
            last["text"] = (string?)last["text"] + text;
        else
            outputs.Add(new JsonObject { ["name"] = name, ["output_type"] = "stream", ["text"] = text });
        if (_echo is not null)
        {
            foreach (var line in text.TrimEnd('\n').Split('\n'))
                _echo.WriteLine($"    │ {Clip(line)}");
        }
    }

    // Streams are kept as one string while they grow; Jupyter stores text as a list of lines.
    private static JsonArray Finalize(JsonArray outputs)
    {
        foreach (var output in outputs.OfType<JsonObject>())
        {
            if ((string?)output["output_type"] == "stream" && output["text"] is JsonValue text)
                output["text"] = Notebook.SplitLines(text.GetValue<string>());
        }
        return outputs;
    }

    private static JsonObject ErrorOutput(string ename, string evalue, IReadOnlyList<string> traceback) => new()
    {
        ["ename"] = ename,
        ["evalue"] = evalue,
        ["output_type"] = "error",
        ["traceback"] = new JsonArray(traceback.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
    };

    /// <summary>A MIME bundle: JSON types (application/json, +json) as JSON values, text as lists of lines, images as base64 strings.</summary>
    private static JsonObject MimeBundle(IReadOnlyDictionary<string, string>? data)
    {
        var bundle = new JsonObject();
        foreach (var (mime, value) in (data ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (mime == "application/json" || mime.EndsWith("+json", StringComparison.Ordinal))
            {
                try
                {
                    bundle[mime] = JsonNode.Parse(value);
                    continue;
                }
                catch (JsonException)
                {
                }
            }
            bundle[mime] = mime.StartsWith("image/", StringComparison.Ordinal) && mime != "image/svg+xml" ? value : Notebook.SplitLines(value);
        }
        return bundle;
    }

    /// <summary>A claims display carries only its JSON, which text front-ends, text exports and GitHub do not show: add a text/plain
    /// alternative, one line per claim as the notebooks print them ("[held] statement: measured").</summary>
    internal static IReadOnlyDictionary<string, string>? WithClaimsText(IReadOnlyDictionary<string, string>? data)
    {
        if (data is null || data.ContainsKey("text/plain") || !data.TryGetValue(NotebookRunner.ClaimsMimeType, out var json))
            return data;
        try
        {
            if (JsonNode.Parse(json) is not JsonArray claims)
                return data;
            static string? Field(JsonObject claim, string name) => claim[name] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
            var lines = claims.OfType<JsonObject>().Select(c =>
                $"[{Field(c, "verdict") ?? "not judged"}] {Field(c, "statement") ?? Field(c, "id")}: {Field(c, "measured") ?? ""}".TrimEnd(' ', ':'));
            return new Dictionary<string, string>(data) { ["text/plain"] = string.Join("\n", lines) };
        }
        catch (JsonException)
        {
            return data;
        }
    }

    private void CollectClaims(IReadOnlyDictionary<string, string>? data)
    {
        if (data is null || !data.TryGetValue(NotebookRunner.ClaimsMimeType, out var json))
            return;
        try
        {
            if (JsonNode.Parse(json) is JsonArray claims)
                foreach (var claim in claims)
                    Claims.Add(claim?.DeepClone());
        }
        catch (JsonException)
        {
        }
    }

    // The library's chart HTML says why it carries no PNG (Display/ChartDisplay.cs in NormNotebooks).
    private void CollectWarnings(int cell, IReadOnlyDictionary<string, string>? data)
    {
        if (data is null || !data.TryGetValue("text/html", out var html))
            return;
        var at = html.IndexOf(NoImageMarker, StringComparison.Ordinal);
        if (at < 0)
            return;
        var end = html.IndexOf("-->", at, StringComparison.Ordinal);
        var reason = html[(at + NoImageMarker.Length)..(end < 0 ? html.Length : end)].Trim();
        var warning = $"cell {cell}: a chart has no static image ({reason}); it shows only where scripts run";
        if (Warnings.Contains(warning))
            return;
        Warnings.Add(warning);
        _echo?.WriteLine($"    ⚠ {warning}");
    }

    /// <summary>The longest line the live echo shows; the notebook keeps the whole output.</summary>
    internal const int EchoLineLimit = 500;

    // A line of a megabyte (a data URI, a long progress line without newlines) would be one line of a megabyte in a CI log.
    private static string Clip(string line) =>
        line.Length <= EchoLineLimit ? line : string.Create(CultureInfo.InvariantCulture, $"{line[..EchoLineLimit]}… ({line.Length - EchoLineLimit:N0} more characters)");

    private const string NoImageMarker = "<!-- normnb: no static image:";

    private void EchoData(IReadOnlyDictionary<string, string>? data, string kind)
    {
        if (_echo is null || data is null)
            return;
        var text = data.TryGetValue("text/plain", out var plain) ? plain : $"({string.Join(", ", data.Keys)} output)";
        var lines = text.Split('\n');
        foreach (var line in lines.Take(20))
            _echo.WriteLine($"    │ {Clip(line)}");
        if (lines.Length > 20)
            _echo.WriteLine($"    │ … ({lines.Length - 20} more lines of this {kind})");
    }
}
