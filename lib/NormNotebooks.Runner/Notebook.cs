// SPDX-License-Identifier: MIT
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormNotebooks.Runner;

/// <summary>A notebook file that cannot be run as it is; the message names the file and, where it applies, the cell.</summary>
public sealed class NotebookFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One cell of a notebook, as read: its JSON (kept whole, so unknown metadata survives) and its source text.</summary>
public sealed class NotebookCell
{
    internal NotebookCell(int number, JsonObject json, string cellType, string source)
    {
        (Number, Json, CellType, Source) = (number, json, cellType, source);
    }

    /// <summary>1-based position in the notebook, as people count cells.</summary>
    public int Number { get; }

    /// <summary>The cell's JSON object.</summary>
    public JsonObject Json { get; }

    /// <summary><c>code</c>, <c>markdown</c> or <c>raw</c>.</summary>
    public string CellType { get; }

    /// <summary>The source joined into one string.</summary>
    public string Source { get; }

    /// <summary>Cell tags (papermill's <c>parameters</c> among them).</summary>
    public IReadOnlyList<string> Tags =>
        Notebook.Member(Json, "metadata", "tags") is JsonArray tags ? tags.Select(t => Notebook.Text(t) ?? "").ToList() : [];

    /// <summary>The kernel named in the cell's metadata (<c>polyglot_notebook.kernelName</c>, else the legacy <c>dotnet_interactive.language</c>), or null.</summary>
    public string? MetadataKernel =>
        Notebook.Text(Notebook.Member(Json, "metadata", "polyglot_notebook", "kernelName") ?? Notebook.Member(Json, "metadata", "dotnet_interactive", "language"));
}

/// <summary>
/// An nbformat 4 notebook held as JSON, written back by changing only the bytes of what a run changes — outputs,
/// execution counts, injected cells — so that everything else (key order, unknown metadata, indentation, escapes,
/// line endings, a byte-order mark) stays as the file had it.
/// </summary>
public sealed class Notebook
{
    /// <summary>Cells whose source is larger than this are refused (a generated or pasted blob, not code to run).</summary>
    public const int MaxCellSourceChars = 1 << 20;

    /// <summary>Deepest JSON nesting read and written: Python's <c>json</c>, which nbformat uses, stops near 1,000 (its recursion limit).</summary>
    public const int MaxDepth = 1000;

    private static readonly byte[] ByteOrderMark = [0xEF, 0xBB, 0xBF];

    private readonly JsonObject _root;
    private readonly byte[] _bytes;
    private readonly int _body;
    private readonly FileLayout _layout;
    private readonly HashSet<JsonObject> _changed = new(ReferenceEqualityComparer.Instance);

    private Notebook(string path, JsonObject root, byte[] bytes, int body, FileLayout layout, List<NotebookCell> cells)
    {
        (Path, _root, _bytes, _body, _layout, Cells) = (path, root, bytes, body, layout, cells);
    }

    /// <summary>The file the notebook was read from.</summary>
    public string Path { get; }

    /// <summary>The file's bytes as read: what write-back compares the file with before replacing it.</summary>
    internal byte[] Bytes => _bytes;

    /// <summary>All cells, in order.</summary>
    public IReadOnlyList<NotebookCell> Cells { get; private set; }

    /// <summary>The notebook's default kernel: <c>metadata.polyglot_notebook.kernelInfo.defaultKernelName</c>, else <c>kernelspec.name</c> without <c>.net-</c>, else <c>csharp</c>.</summary>
    public string DefaultKernel
    {
        get
        {
            if (Text(Member(_root, "metadata", "polyglot_notebook", "kernelInfo", "defaultKernelName")) is { } name)
                return name;
            if (KernelspecName(_root) is { } spec && spec.StartsWith(".net-", StringComparison.Ordinal))
                return spec[".net-".Length..];
            return "csharp";
        }
    }

    /// <summary>Reads and validates a notebook file.</summary>
    /// <exception cref="NotebookFormatException">Not JSON, not nbformat 4, or a malformed cell; the message names the file and cell.</exception>
    public static Notebook Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NotebookFormatException($"{path}: cannot be read ({e.Message}).", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses notebook bytes; <paramref name="path"/> names the source in messages.</summary>
    public static Notebook Parse(byte[] bytes, string path)
    {
        if (bytes.Length == 0)
            throw new NotebookFormatException($"{path}: the file is empty; a notebook is a JSON object with 'cells', 'metadata' and 'nbformat'.");
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new NotebookFormatException($"{path}: not UTF-8 text (invalid byte at offset {e.Index}); is it a notebook?", e);
        }
        JsonNode? node;
        try
        {
            // A key twice is ambiguous (Python keeps the last, JsonObject throws on first access) and would make
            // write-back's layout ambiguous too: refuse it here.
            node = JsonNode.Parse(text.TrimStart('\uFEFF'), documentOptions: new JsonDocumentOptions { MaxDepth = MaxDepth, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw new NotebookFormatException($"{path}: not valid JSON ({e.Message}).", e);
        }
        if (node is not JsonObject root)
            throw new NotebookFormatException($"{path}: the top level must be a JSON object, not {Describe(node)}.");

        var major = root["nbformat"] is JsonValue m && m.TryGetValue<int>(out var v) ? v : (int?)null;
        if (major is null)
            throw new NotebookFormatException($"{path}: 'nbformat' is missing or not an integer; only nbformat 4 notebooks can be run.");
        if (major != 4)
            throw new NotebookFormatException($"{path}: nbformat {major} is not supported; only nbformat 4. Convert it with `jupyter nbconvert --to notebook --nbformat 4`.");
        if (root["cells"] is not JsonArray cellArray)
            throw new NotebookFormatException($"{path}: 'cells' is {(root.ContainsKey("cells") ? Describe(root["cells"]) : "missing")}; nbformat 4 requires a list of cells.");
        if (root["metadata"] is not null and not JsonObject)
            throw new NotebookFormatException($"{path}: 'metadata' must be an object.");
        if (cellArray.Count == 0)
            throw new NotebookFormatException($"{path}: the notebook has no cells; there is nothing to run.");
        if (KernelspecName(root) is { } spec && !spec.StartsWith(".net-", StringComparison.Ordinal) && spec is not ("csharp" or "c#")
            && Member(root, "metadata", "polyglot_notebook", "kernelInfo") is null)
            throw new NotebookFormatException($"{path}: the notebook's kernel is '{spec}' (metadata.kernelspec.name); normnb runs C# notebooks (kernelspec '.net-csharp').");

        var cells = new List<NotebookCell>(cellArray.Count);
        for (var i = 0; i < cellArray.Count; i++)
            cells.Add(ReadCell(path, i + 1, cellArray[i]));
        var body = 0;
        while (bytes.AsSpan(body).StartsWith(ByteOrderMark))
            body += ByteOrderMark.Length;
        return new Notebook(path, root, bytes, body, FileLayout.Scan(bytes.AsSpan(body), cellArray), cells);
    }

    /// <summary>Replaces a code cell's outputs and execution count.</summary>
    public void SetOutputs(NotebookCell cell, JsonArray outputs, int? executionCount)
    {
        cell.Json["outputs"] = outputs;
        cell.Json["execution_count"] = executionCount;
        _changed.Add(cell.Json);
    }

    /// <summary>Empties every code cell's outputs and execution count, so that a cell a run does not reach shows nothing
    /// rather than an earlier run's results (Jupyter's "Restart and Run All" does the same).</summary>
    public void ClearOutputs()
    {
        foreach (var cell in Cells.Where(c => c.CellType == "code"))
            SetOutputs(cell, [], null);
    }

    /// <summary>Inserts a new code cell at <paramref name="index"/> (0-based); used for injected parameters. From nbformat 4.5,
    /// where cells must have one, it gets the id <paramref name="id"/> (with a suffix if a cell has it already).</summary>
    public NotebookCell InsertCodeCell(int index, string source, IEnumerable<string> tags, string id)
    {
        var all = (JsonArray)_root["cells"]!;
        var json = new JsonObject { ["cell_type"] = "code", ["execution_count"] = null };
        if (_root["nbformat_minor"] is JsonValue minor && minor.TryGetValue<int>(out var m) && m >= 5)
        {
            var taken = all.Select(c => Text(Member(c, "id"))).ToHashSet();
            json["id"] = Enumerable.Range(1, all.Count + 1).Select(n => n == 1 ? id : $"{id}-{n}").First(candidate => !taken.Contains(candidate));
        }
        json["metadata"] = new JsonObject
        {
            ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
            ["tags"] = new JsonArray(tags.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
        };
        json["outputs"] = new JsonArray();
        json["source"] = SplitLines(source);
        all.Insert(index, json);
        var renumbered = new List<NotebookCell>();
        for (var i = 0; i < all.Count; i++)
            renumbered.Add(ReadCell(Path, i + 1, all[i]));
        Cells = renumbered;
        return renumbered[index];
    }

    /// <summary>The file's bytes with this notebook's changes: new outputs and execution counts in place of the old ones,
    /// inserted cells, written in the file's own indentation and line endings; every other byte as it was read.</summary>
    public byte[] ToBytes()
    {
        var edits = new List<FileLayout.Edit>();
        FileLayout.Cell? previous = null;
        foreach (var cell in ((JsonArray)_root["cells"]!).Cast<JsonObject>())
        {
            if (_layout.Cells.TryGetValue(cell, out var layout))
            {
                if (_changed.Contains(cell))
                {
                    edits.Add(_layout.SetValue(layout, "execution_count", cell["execution_count"], layout.ExecutionCount));
                    edits.Add(_layout.SetValue(layout, "outputs", cell["outputs"], layout.Outputs));
                }
                previous = layout;
            }
            else
                edits.Add(_layout.InsertCell(cell, after: previous));
        }
        if (edits.Count == 0)
            return (byte[])_bytes.Clone();
        var output = new MemoryStream(_bytes.Length + 1024);
        var body = _bytes.AsSpan(_body);
        output.Write(_bytes.AsSpan(0, _body));
        var cursor = 0;
        foreach (var edit in edits.OrderBy(e => e.At))   // stable: insertions at one place keep their order
        {
            output.Write(body[cursor..edit.At]);
            output.Write(Encoding.UTF8.GetBytes(edit.Text));
            cursor = edit.At + edit.Length;
        }
        output.Write(body[cursor..]);
        return output.ToArray();
    }

    /// <summary><see cref="ToBytes"/> as text.</summary>
    public string ToJson() => Encoding.UTF8.GetString(ToBytes());

    /// <summary>Splits text into Jupyter's list-of-lines form: each line keeps its "\n", the last has none.</summary>
    public static JsonArray SplitLines(string text)
    {
        var lines = new JsonArray();
        var start = 0;
        while (start < text.Length)
        {
            var end = text.IndexOf('\n', start);
            var line = end < 0 ? text[start..] : text[start..(end + 1)];
            lines.Add(line);
            start += line.Length;
        }
        return lines;
    }

    private static string? KernelspecName(JsonObject root) => Text(Member(root, "metadata", "kernelspec", "name"));

    /// <summary>The value at a path of keys, or null where a key is missing or a step is not an object (malformed metadata is not an error).</summary>
    internal static JsonNode? Member(JsonNode? node, params string[] keys)
    {
        foreach (var key in keys)
            node = node is JsonObject obj ? obj[key] : null;
        return node;
    }

    /// <summary>The node's string, or null when it is not a string.</summary>
    internal static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private static NotebookCell ReadCell(string path, int number, JsonNode? node)
    {
        if (node is not JsonObject cell)
            throw new NotebookFormatException($"{path}: cell {number} is {Describe(node)}, not an object.");
        var type = cell["cell_type"] is JsonValue t && t.TryGetValue<string>(out var s) ? s : null;
        if (type is not ("code" or "markdown" or "raw"))
            throw new NotebookFormatException($"{path}: cell {number} has cell_type {(type is null ? "missing" : $"'{type}'")}; expected 'code', 'markdown' or 'raw'.");
        var source = cell["source"] switch
        {
            JsonValue value when value.TryGetValue<string>(out var text) => text,
            JsonArray lines when lines.All(l => l is JsonValue lv && lv.TryGetValue<string>(out _)) => string.Concat(lines.Select(l => l!.GetValue<string>())),
            null => throw new NotebookFormatException($"{path}: cell {number} has no 'source'."),
            var other => throw new NotebookFormatException($"{path}: cell {number} has a 'source' that is {Describe(other)}; it must be a string or a list of strings."),
        };
        if (source.Length > MaxCellSourceChars)
            throw new NotebookFormatException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{path}: cell {number} holds {source.Length:N0} characters of source; the limit is {MaxCellSourceChars:N0}. Load large data from a file instead."));
        if (type == "code" && cell["outputs"] is not null and not JsonArray)
            throw new NotebookFormatException($"{path}: cell {number} has 'outputs' that is not a list.");
        return new NotebookCell(number, cell, type, source);
    }

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "a list",
        JsonObject => "an object",
        JsonValue v when v.TryGetValue<string>(out _) => "a string",
        JsonValue v when v.TryGetValue<bool>(out _) => "a boolean",
        _ => "a number",
    };
}
