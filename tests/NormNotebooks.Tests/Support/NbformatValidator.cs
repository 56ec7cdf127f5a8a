// SPDX-License-Identifier: MIT
using System.Text.Json;
using System.Text.Json.Nodes;
using NJsonSchema;

namespace NormNotebooks.Tests.Support;

/// <summary>Validates notebooks in-process against Jupyter's own nbformat v4.5 JSON schema (Support/nbformat, copied unchanged from
/// nbformat 5.5.0), plus the one rule nbformat.validate adds beyond the schema for v4.5: cell ids are unique. An independent reference
/// that needs nothing installed.</summary>
internal static class NbformatValidator
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        using var stream = typeof(NbformatValidator).Assembly.GetManifestResourceStream("nbformat.v4.5.schema.json")
            ?? throw new InvalidOperationException("The embedded nbformat v4.5 schema is missing from the test assembly.");
        using var reader = new StreamReader(stream);
        return JsonSchema.FromJsonAsync(FlattenDefinitions(reader.ReadToEnd())).GetAwaiter().GetResult();
    });

    // The schema nests definitions one level deeper ("#/definitions/misc/multiline_string"), which NJsonSchema cannot resolve:
    // lift each nested one to "#/definitions/misc_multiline_string" and rewrite the references. The constraints stay the same.
    private static string FlattenDefinitions(string schema)
    {
        var root = JsonNode.Parse(schema)!.AsObject();
        var definitions = root["definitions"]!.AsObject();
        var misc = definitions["misc"]!.AsObject();
        definitions.Remove("misc");
        foreach (var (name, definition) in misc.ToList())
        {
            misc.Remove(name);
            definitions["misc_" + name] = definition;
        }
        return root.ToJsonString().Replace("\"#/definitions/misc/", "\"#/definitions/misc_", StringComparison.Ordinal);
    }

    /// <summary>The problems found in the notebook at <paramref name="path"/>, each as "path: JSON path: problem"; empty when valid.</summary>
    public static IReadOnlyList<string> Problems(string path)
    {
        var text = File.ReadAllText(path);
        using (var document = JsonDocument.Parse(text))
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("nbformat", out var major) || major.GetInt32() != 4
                || !root.TryGetProperty("nbformat_minor", out var minor) || minor.GetInt32() != 5)
                return [$"{path}: not an nbformat 4.5 notebook (the only schema embedded here)"];
            var ids = root.GetProperty("cells").EnumerateArray().Where(c => c.TryGetProperty("id", out _)).Select(c => c.GetProperty("id").GetString()).ToList();
            var duplicates = ids.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (duplicates.Count > 0)
                return [$"{path}: duplicate cell ids {string.Join(", ", duplicates)}"];
        }
        return Schema.Value.Validate(text).Select(e => $"{path}: {e.Path}: {e.Kind} {e.Property}".TrimEnd()).ToList();
    }
}
