// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Cli;

namespace NormNotebooks.Tests.Support;

/// <summary>A scratch folder with copies of test notebooks, run through the real <c>normnb run</c>.</summary>
public sealed class NotebookScratch : IDisposable
{
    public NotebookScratch()
    {
        Folder = Directory.CreateTempSubdirectory("normnb-run-").FullName;
    }

    public string Folder { get; }

    /// <summary>Copies a notebook from the test output's Notebooks/ folder.</summary>
    public string Copy(string name)
    {
        var target = Path.Combine(Folder, name);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Notebooks", name), target, overwrite: true);
        return target;
    }

    /// <summary>Writes a notebook with the given code cells (and the Polyglot metadata) and returns its path.</summary>
    public string Write(string name, params string[] codeCells) =>
        WriteCells(name, codeCells.Select(source => new JsonObject
        {
            ["cell_type"] = "code",
            ["execution_count"] = null,
            ["metadata"] = new JsonObject(),
            ["outputs"] = new JsonArray(),
            ["source"] = source,
        }).ToArray());

    /// <summary>Writes an nbformat 4.5 C# notebook holding <paramref name="cells"/> and returns its path.</summary>
    public string WriteCells(string name, params JsonObject[] cells)
    {
        var notebook = new JsonObject
        {
            ["cells"] = new JsonArray(cells.Select(c => (JsonNode)c).ToArray()),
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" } },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        return WriteText(name, notebook.ToJsonString(new() { WriteIndented = true }) + "\n");
    }

    /// <summary>A code cell with an id; <paramref name="earlierStdout"/> stands for what an earlier run left in it.</summary>
    public static JsonObject CodeCell(string id, string source, int? executionCount = null, string? earlierStdout = null) => new()
    {
        ["cell_type"] = "code",
        ["execution_count"] = executionCount,
        ["id"] = id,
        ["metadata"] = new JsonObject(),
        ["outputs"] = earlierStdout is null ? new JsonArray()
            : new JsonArray(new JsonObject { ["name"] = "stdout", ["output_type"] = "stream", ["text"] = earlierStdout }),
        ["source"] = source,
    };

    /// <summary>A markdown cell with an id.</summary>
    public static JsonObject MarkdownCell(string id, string source) => new()
    {
        ["cell_type"] = "markdown",
        ["id"] = id,
        ["metadata"] = new JsonObject(),
        ["source"] = source,
    };

    public string WriteText(string name, string text)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    public string WriteBytes(string name, byte[] bytes)
    {
        var path = Path.Combine(Folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Runs <c>normnb run</c> with the arguments and returns its exit code and output.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => CliTests.Normnb(["run", .. args]);

    public static JsonObject Read(string path) => (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;

    /// <summary>The outputs of the cell whose id is <paramref name="id"/>.</summary>
    public static JsonArray Outputs(JsonObject notebook, string id) =>
        (JsonArray)((JsonArray)notebook["cells"]!).Single(c => (string?)c!["id"] == id)!["outputs"]!;

    /// <summary>Joins an nbformat multiline value (string or list of lines).</summary>
    public static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => (string?)l)),
        JsonValue value => (string)value!,
        _ => "",
    };

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
