// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormNotebooks.Runner;

/// <summary>
/// Where each cell, its <c>outputs</c> and its <c>execution_count</c> lie in a notebook file (byte offsets after any
/// byte-order mark), and the file's line ending and indentation unit, so that <see cref="Notebook.ToBytes"/> can replace
/// just those values and insert cells in the file's own style.
/// </summary>
internal sealed class FileLayout
{
    private readonly int _firstCellStart;
    private readonly string? _cellIndent;
    private readonly string _newline;
    private readonly string _unit;

    private FileLayout(Dictionary<JsonObject, Cell> cells, int firstCellStart, string? cellIndent, string newline, string unit)
    {
        (Cells, _firstCellStart, _cellIndent, _newline, _unit) = (cells, firstCellStart, cellIndent, newline, unit);
    }

    /// <summary>The cells as read, by their JSON object.</summary>
    public Dictionary<JsonObject, Cell> Cells { get; }

    /// <summary>A value's bytes: [Start, End).</summary>
    public readonly record struct Span(int Start, int End);

    /// <summary>One cell in the file: its bytes, where its last value ends (where keys are added), the indentation of its keys
    /// (null when they do not start lines), and its two values a run changes, when present.</summary>
    public sealed record Cell(int Start, int End, int LastValueEnd, string? KeyIndent, Span? Outputs, Span? ExecutionCount);

    /// <summary>Replace <c>Length</c> bytes at <c>At</c> with <c>Text</c>.</summary>
    public sealed record Edit(int At, int Length, string Text);

    /// <summary>Finds the cells of <paramref name="cells"/> in <paramref name="body"/>: the bytes <see cref="Notebook.Parse"/> read
    /// them from, so valid JSON with one <c>cells</c> list of objects and no key twice.</summary>
    public static FileLayout Scan(ReadOnlySpan<byte> body, JsonArray cells)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = Notebook.MaxDepth });
        reader.Read();
        var found = new List<Cell>(cells.Count);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isCells = reader.ValueTextEquals("cells"u8);
            reader.Read();
            if (!isCells)
            {
                reader.Skip();
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                found.Add(ScanCell(ref reader, body));
        }
        Debug.Assert(found.Count == cells.Count, "the reader and JsonNode disagree on the cells");

        var newline = body.IndexOf((byte)'\n');
        var indentation = newline < 0 ? [] : body[(newline + 1)..];
        var spaces = indentation.IndexOfAnyExcept((byte)' ');
        var unit = indentation.Length > 0 && indentation[0] == '\t' ? "\t" : spaces is > 0 and <= 8 ? new string(' ', spaces) : " ";
        var byObject = new Dictionary<JsonObject, Cell>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < found.Count; i++)
            byObject[(JsonObject)cells[i]!] = found[i];
        return new FileLayout(byObject, found[0].Start, LineIndent(body, found[0].Start),
            newline > 0 && body[newline - 1] == '\r' ? "\r\n" : "\n", unit);
    }

    /// <summary>Writes <paramref name="value"/> as the cell's <paramref name="key"/>: over its old value, or as a new last key.</summary>
    public Edit SetValue(Cell cell, string key, JsonNode? value, Span? old)
    {
        var text = Serialize(value, cell.KeyIndent);
        if (old is { } span)
            return new Edit(span.Start, span.End - span.Start, text);
        var member = new StringBuilder(",").Append(LineBreak(cell.KeyIndent));
        JupyterJson.AppendString(member, key);
        return new Edit(cell.LastValueEnd, 0, member.Append(cell.KeyIndent is null ? ":" : ": ").Append(text).ToString());
    }

    /// <summary>Writes a new cell after <paramref name="after"/>, or before the first cell when it is null.</summary>
    public Edit InsertCell(JsonObject cell, Cell? after)
    {
        var text = Serialize(cell, _cellIndent);
        return after is null
            ? new Edit(_firstCellStart, 0, text + "," + LineBreak(_cellIndent))
            : new Edit(after.End, 0, "," + LineBreak(_cellIndent) + text);
    }

    private string Serialize(JsonNode? value, string? indent)
    {
        var text = new StringBuilder();
        JupyterJson.Write(text, value, indent, _unit, _newline);
        return text.ToString();
    }

    private string LineBreak(string? indent) => indent is null ? "" : _newline + indent;

    // The reader is on the cell's '{'.
    private static Cell ScanCell(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        var start = (int)reader.TokenStartIndex;
        string? keyIndent = null;
        Span? outputs = null, executionCount = null;
        var lastValueEnd = start + 1;
        var first = true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (first)
                keyIndent = LineIndent(body, (int)reader.TokenStartIndex);
            first = false;
            var key = reader.ValueTextEquals("outputs"u8) ? "outputs" : reader.ValueTextEquals("execution_count"u8) ? "execution_count" : null;
            reader.Read();
            var value = new Span((int)reader.TokenStartIndex, 0);
            reader.Skip();
            lastValueEnd = (int)reader.BytesConsumed;
            value = value with { End = lastValueEnd };
            if (key == "outputs")
                outputs = value;
            else if (key == "execution_count")
                executionCount = value;
        }
        return new Cell(start, (int)reader.BytesConsumed, lastValueEnd, keyIndent, outputs, executionCount);
    }

    /// <summary>The spaces and tabs before <paramref name="position"/> when they start its line; null when something else precedes it.</summary>
    private static string? LineIndent(ReadOnlySpan<byte> body, int position)
    {
        var start = position;
        while (start > 0 && body[start - 1] is (byte)' ' or (byte)'\t')
            start--;
        return start > 0 && body[start - 1] == '\n' ? Encoding.ASCII.GetString(body[start..position]) : null;
    }
}
