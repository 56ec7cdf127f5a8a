// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Collections;
using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.DotNet.Interactive.Formatting;

namespace NormNotebooks.Interactive;

/// <summary>
/// Sequences of records, tuples, anonymous objects and plain data classes as tables: an HTML table and an aligned
/// text table, one row per item and one column per public property (tuple fields as Item1…ItemN: their names do not
/// survive compilation). Other values keep the Formatting package's rendering.
/// </summary>
public static class TableFormatter
{
    /// <summary>Rows shown before the table is cut with a count of the rest.</summary>
    public const int MaxRows = 100;

    /// <summary>Formats <paramref name="value"/> as a table for <paramref name="mimeType"/> when it is a sequence of rows; null otherwise.</summary>
    public static string? TryFormat(object? value, string mimeType)
    {
        if (value is null or string || value is not IEnumerable sequence || mimeType is not ("text/html" or "text/plain"))
            return null;
        var items = sequence.Cast<object?>().Take(MaxRows + 1).ToList();
        if (items.Count == 0 || items.Any(i => i is null) || items.Select(i => i!.GetType()).Distinct().Count() != 1)
            return null;
        var columns = Columns(items[0]!.GetType());
        if (columns.Count == 0)
            return null;
        var more = items.Count > MaxRows ? (value is ICollection c ? $"… {c.Count - MaxRows:N0} more rows" : "… more rows") : null;
        var rows = items.Take(MaxRows).Select(item => columns.Select(column => Cell(column.Read(item!))).ToArray()).ToList();
        return mimeType == "text/html" ? Html(columns, rows, more) : Text(columns, rows, more);
    }

    private sealed record Column(string Name, Func<object, object?> Read);

    private static IReadOnlyList<Column> Columns(Type type)
    {
        if (type.IsPrimitive || type.IsEnum || type == typeof(decimal) || typeof(IEnumerable).IsAssignableFrom(type) || type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true && !IsTuple(type))
            return [];
        if (IsTuple(type))
            return type.GetFields(BindingFlags.Public | BindingFlags.Instance).Where(f => f.Name.StartsWith("Item", StringComparison.Ordinal))
                .Select(f => new Column(f.Name, o => f.GetValue(o))).ToList();
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .Select(p => new Column(p.Name, o => p.GetValue(o)))
            .Concat(type.GetFields(BindingFlags.Public | BindingFlags.Instance).Select(f => new Column(f.Name, o => f.GetValue(o))))
            .ToList();
    }

    private static bool IsTuple(Type type) => typeof(ITuple).IsAssignableFrom(type) && type.IsGenericType;

    private static string Cell(object? value) => value switch
    {
        null => Formatter.NullString,
        string s => s,
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToDisplayString(PlainTextFormatter.MimeType),
    };

    private static string Html(IReadOnlyList<Column> columns, List<string[]> rows, string? more)
    {
        var html = new StringBuilder("<table><thead><tr>");
        foreach (var column in columns)
            html.Append("<th>").Append(WebUtility.HtmlEncode(column.Name)).Append("</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in rows)
            html.Append("<tr>").AppendJoin("", row.Select(cell => $"<td>{WebUtility.HtmlEncode(cell)}</td>")).Append("</tr>");
        if (more is not null)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td colspan=\"{columns.Count}\"><i>{more}</i></td></tr>");
        return html.Append("</tbody></table>").ToString();
    }

    private static string Text(IReadOnlyList<Column> columns, List<string[]> rows, string? more)
    {
        var widths = columns.Select((c, i) => Math.Max(c.Name.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        void Line(IEnumerable<string> cells) => text.Append(string.Join("  ", cells).TrimEnd()).Append('\n');
        Line(columns.Select((c, i) => c.Name.PadRight(widths[i])));
        Line(widths.Select(w => new string('-', w)));
        foreach (var row in rows)
            Line(row.Select((cell, i) => cell.PadRight(widths[i])));
        if (more is not null)
            text.Append(more).Append('\n');
        return text.ToString().TrimEnd('\n');
    }
}
