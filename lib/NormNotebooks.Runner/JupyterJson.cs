// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormNotebooks.Runner;

/// <summary>
/// Writes JSON as Jupyter does (nbformat's <c>json.dumps(nb, indent=1, sort_keys=True, separators=(',', ': '),
/// ensure_ascii=False)</c>): characters as they are, emoji and U+2028 included; only <c>"</c>, <c>\</c> and control
/// characters are escaped, the latter in lower-case hex (<c>\u001b</c>). Valid JSON by construction, since JSON
/// forbids nothing else in strings; HTML-sensitive characters (<c>&lt; &gt; &amp; '</c>) need no escape in a file.
/// </summary>
/// <remarks>
/// System.Text.Json's encoders cannot do this: even <c>UnsafeRelaxedJsonEscaping</c> writes characters outside the
/// BMP as surrogate escapes (<c>\uD83D\uDCD3</c>) and escapes U+2028. The recursion is as deep as the value, which the
/// reader has already limited to <see cref="Notebook.MaxDepth"/>.
/// </remarks>
internal static class JupyterJson
{
    /// <summary>Appends <paramref name="node"/>; <paramref name="indent"/> is the indentation of the line it starts on, or null
    /// to write it on one line (for files written without line breaks).</summary>
    public static void Write(StringBuilder text, JsonNode? node, string? indent, string unit, string newline)
    {
        switch (node)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject { Count: 0 }:
                text.Append("{}");
                break;
            case JsonArray { Count: 0 }:
                text.Append("[]");
                break;
            case JsonObject obj:
                text.Append('{');
                var inner = indent is null ? null : indent + unit;
                var firstKey = true;
                foreach (var (key, value) in obj)
                {
                    Separate(text, ref firstKey, inner, newline);
                    AppendString(text, key);
                    text.Append(inner is null ? ":" : ": ");
                    Write(text, value, inner, unit, newline);
                }
                Close(text, '}', indent, newline);
                break;
            case JsonArray array:
                text.Append('[');
                var itemIndent = indent is null ? null : indent + unit;
                var firstItem = true;
                foreach (var item in array)
                {
                    Separate(text, ref firstItem, itemIndent, newline);
                    Write(text, item, itemIndent, unit, newline);
                }
                Close(text, ']', indent, newline);
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                AppendString(text, value.GetValue<string>());
                break;
            default:
                text.Append(node.ToJsonString());   // numbers keep the text they were read with; true, false
                break;
        }
    }

    /// <summary>Appends <paramref name="value"/> as a JSON string, escaped as Python's <c>json</c> module does with <c>ensure_ascii=False</c>.</summary>
    public static void AppendString(StringBuilder text, string value)
    {
        text.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < ' ')
                        text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                        text.Append(c).Append(value[++i]);
                    else if (char.IsSurrogate(c))
                        text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");   // a lone surrogate has no UTF-8 form; JSON.stringify escapes it too
                    else
                        text.Append(c);
                    break;
            }
        }
        text.Append('"');
    }

    // Before each member: a comma unless it is the first, then its line.
    private static void Separate(StringBuilder text, ref bool first, string? inner, string newline)
    {
        if (!first)
            text.Append(',');
        first = false;
        if (inner is not null)
            text.Append(newline).Append(inner);
    }

    private static void Close(StringBuilder text, char bracket, string? indent, string newline)
    {
        if (indent is not null)
            text.Append(newline).Append(indent);
        text.Append(bracket);
    }
}
