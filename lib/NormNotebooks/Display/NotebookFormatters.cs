// SPDX-License-Identifier: MIT
using System.Collections;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.DotNet.Interactive.Formatting;
using TorchSharp;

namespace NormNotebooks.Display;

/// <summary>
/// How the library's values look in a notebook, registered with .NET Interactive's formatter (the package the C# kernel itself
/// uses) when the library loads, so they look the same in VS Code, in Jupyter with the <c>.net-csharp</c> kernel and under
/// <c>normnb run</c>: sequences of records, tuples and plain data objects as tables, one column per property (HTML and aligned text;
/// the kernel shows them as a tree of one row per item), and large tensors abbreviated as PyTorch prints them (TorchSharp's own
/// formatter prints every row; a 1000×1000 tensor is 115 KB of text), and Plotly.NET and XPlot.Plotly charts as interactive HTML
/// with a static PNG inside it and beside it (<see cref="ChartDisplay"/>). Registered when the library loads into
/// a process that already runs a kernel (the formatter assembly is loaded); elsewhere nothing is touched unless <see cref="Register"/>
/// is called.
/// </summary>
public static class NotebookFormatters
{
    /// <summary>Rows shown before a table is cut with a count of the rest.</summary>
    public const int MaxRows = 100;

    /// <summary>PyTorch's default print threshold (elements): larger tensors are abbreviated.</summary>
    public const long TensorThreshold = 1000;

    /// <summary>Entries kept along each axis of an abbreviated tensor.</summary>
    public const long TensorEdgeItems = 6;

    private static int _registered;

    /// <summary>Called by the library's initializer: registers when the library loads into a process that already runs a kernel.</summary>
    internal static void RegisterOnLoad()
    {
        if (AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "Microsoft.DotNet.Interactive.Formatting"))
            Register();
    }

    /// <summary>Registers the formatters (once; later calls do nothing). Each group is registered on its own: one whose package is
    /// missing (a notebook that references the library without TorchSharp or Plotly.NET) is left out, never the library's load.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0)
            return;
        Try(RegisterTables);
        // Charts and tensors need Plotly.NET and TorchSharp: a group whose package a notebook loads only later is registered then.
        var charts = Try(RegisterCharts);
        var tensors = Try(RegisterTensors);
        if (charts && tensors)
            return;
        AppDomain.CurrentDomain.AssemblyLoad += (_, e) =>
        {
            var name = e.LoadedAssembly.GetName().Name;
            if (!charts && name == "Plotly.NET")
                charts = Try(RegisterCharts);
            if (!tensors && name == "TorchSharp")
                tensors = Try(RegisterTensors);
        };
    }

    private static bool Try(Action register)
    {
        try
        {
            register();
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or FileLoadException or TypeLoadException)
        {
            return false;
        }
    }

    private static void RegisterTables()
    {
        if (KernelDefault.Find is not { } kernelDefault)
            return;
        foreach (var mime in new[] { HtmlFormatter.MimeType, PlainTextFormatter.MimeType })
        {
            // One formatter for every sequence: what is not a table goes to the formatter the kernel would have used.
            Formatter.Register<IEnumerable>((value, context) =>
            {
                if (Table(value, mime) is { } table)
                {
                    context.Writer.Write(table);
                    return true;
                }
                return kernelDefault(value.GetType(), mime)?.Format(value, context) ?? false;
            }, mime);
        }
    }

    private static void RegisterCharts()
    {
        RegisterChart(typeof(Plotly.NET.GenericChart), chart => Plotly.NET.GenericChart.toChartHTML((Plotly.NET.GenericChart)chart));
        // XPlot.Plotly is not a dependency: its chart type is registered when a notebook loads it.
        AppDomain.CurrentDomain.AssemblyLoad += (_, e) => RegisterXPlot(e.LoadedAssembly);
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            RegisterXPlot(assembly);
    }

    private static void RegisterTensors()
    {
        var full = Formatter.GetPreferredFormatterFor(typeof(torch.Tensor), PlainTextFormatter.MimeType);
        Formatter.Register<torch.Tensor>((tensor, context) =>
        {
            context.Writer.Write(TensorText(tensor, full));
            return true;
        }, PlainTextFormatter.MimeType);
        Formatter.Register<torch.Tensor>((tensor, context) =>
        {
            context.Writer.Write($"<div><pre>{WebUtility.HtmlEncode(TensorText(tensor, full))}</pre></div>");
            return true;
        }, HtmlFormatter.MimeType);
    }

    private static readonly ConditionalWeakTable<object, ChartDisplay.Output> Charts = [];

    private static void RegisterXPlot(Assembly assembly)
    {
        if (assembly.GetName().Name != "XPlot.Plotly" || assembly.GetType("XPlot.Plotly.PlotlyChart") is not { } type
            || type.GetMethod("GetInlineHtml", Type.EmptyTypes) is not { } inline)
            return;
        RegisterChart(type, chart => (string)inline.Invoke(chart, null)!);
    }

    private static void RegisterChart(Type type, Func<object, string> snippet)
    {
        ChartDisplay.Output Render(object chart) => Charts.GetValue(chart, c => ChartDisplay.Render(snippet(c)));
        Formatter.Register(type, (chart, writer) => writer.Write(Render(chart).Html), HtmlFormatter.MimeType);
        Formatter.Register(type, (chart, writer) => writer.Write(Render(chart).Png ?? ""), "image/png");
        Formatter.Register(type, (_, writer) => writer.Write($"{type.Name} (interactive chart: open the notebook in VS Code or Jupyter)"), PlainTextFormatter.MimeType);
        Formatter.SetPreferredMimeTypesFor(type, HeadlessChromium.Problem is null
            ? [HtmlFormatter.MimeType, "image/png", PlainTextFormatter.MimeType]
            : [HtmlFormatter.MimeType, PlainTextFormatter.MimeType]);
    }

    /// <summary>The sequence as a table for <paramref name="mimeType"/> (text/html or text/plain) when its items are records, tuples
    /// or data objects of one type; null otherwise.</summary>
    public static string? Table(object? value, string mimeType)
    {
        if (value is null or string || value is not IEnumerable sequence || IsTensor(value) || mimeType is not (HtmlFormatter.MimeType or PlainTextFormatter.MimeType))
            return null;
        var items = sequence.Cast<object?>().Take(MaxRows + 1).ToList();
        if (items.Count == 0 || items.Any(i => i is null) || items.Select(i => i!.GetType()).Distinct().Count() != 1)
            return null;
        var columns = Columns(items[0]!.GetType());
        if (columns.Count == 0)
            return null;
        var more = items.Count > MaxRows ? (value is ICollection c ? string.Create(CultureInfo.InvariantCulture, $"… {c.Count - MaxRows:N0} more rows") : "… more rows") : null;
        var rows = items.Take(MaxRows).Select(item => columns.Select(column => Cell(column.Read(item!))).ToArray()).ToList();
        return mimeType == HtmlFormatter.MimeType ? Html(columns, rows, more) : Text(columns, rows, more);
    }

    // A method of its own, so that a sequence is tested without loading TorchSharp where it is absent.
    private static bool IsTensor(object value) => value.GetType().FullName == "TorchSharp.torch+Tensor";

    /// <summary>
    /// The formatter the kernel itself would choose for a type, ignoring formatters registered by code (ours among them). A formatter
    /// registered for a base type such as <see cref="IEnumerable"/> is chosen for every sequence, and when it declines the package
    /// (1.0.0-beta.26120.1) writes nothing instead of trying the next one; the lookup it uses is internal. The package is archived, so
    /// it stays as it is; <c>NotebookFormattersTests</c> fails if it changes, and without it no table formatter is registered.
    /// </summary>
    internal static class KernelDefault
    {
        public static readonly Func<Type, string, ITypeFormatter?>? Find = Create();

        private static Func<Type, string, ITypeFormatter?>? Create()
        {
            var defaults = typeof(Formatter).GetField("_defaultTypeFormatters", BindingFlags.NonPublic | BindingFlags.Static)?.GetValue(null) as IEnumerable<ITypeFormatter>;
            var find = typeof(Formatter).GetMethod("TryFindPreferredFormatter", BindingFlags.NonPublic | BindingFlags.Static,
                [typeof(Type), typeof(string), typeof(IEnumerable<ITypeFormatter>)]);
            if (defaults is null || find is null || find.ReturnType != typeof(ITypeFormatter))
                return null;
            return (type, mime) => (ITypeFormatter?)find.Invoke(null, [type, mime, defaults]);
        }
    }

    /// <summary>The tensor as text: in full up to <see cref="TensorThreshold"/> elements, else its shape, dtype and device and the first
    /// <see cref="TensorEdgeItems"/> entries along each axis (TorchSharp's own formatter prints every row).</summary>
    private static string TensorText(torch.Tensor tensor, ITypeFormatter full)
    {
        if (tensor.numel() <= TensorThreshold)
            return Render(full, tensor);
        using var scope = torch.NewDisposeScope();
        var view = tensor;
        for (var axis = 0; axis < tensor.dim(); axis++)
        {
            if (tensor.shape[axis] > TensorEdgeItems)
                view = view.narrow(axis, 0, TensorEdgeItems);
        }
        var text = Render(full, view);
        var body = text.Contains('\n', StringComparison.Ordinal) ? text[(text.IndexOf('\n', StringComparison.Ordinal) + 1)..] : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{tensor}\n(first {TensorEdgeItems} entries along each axis of {string.Join('x', tensor.shape)}; {tensor.numel():N0} values in all)\n{body}");
    }

    private static string Render(ITypeFormatter formatter, object value)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        formatter.Format(value, new FormatContext(writer));
        return writer.ToString();
    }

    private sealed record Column(string Name, Func<object, object?> Read);

    private static List<Column> Columns(Type type)
    {
        if (type.IsPrimitive || type.IsEnum || type == typeof(decimal) || typeof(IEnumerable).IsAssignableFrom(type)
            || (type.Namespace?.StartsWith("System", StringComparison.Ordinal) == true && !IsTuple(type)))
            return [];
        if (IsTuple(type))
            return type.GetFields(BindingFlags.Public | BindingFlags.Instance).Where(f => f.Name.StartsWith("Item", StringComparison.Ordinal))
                .Select(f => new Column(f.Name, f.GetValue)).ToList();
        return type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract")
            .Select(p => new Column(p.Name, p.GetValue))
            .Concat(type.GetFields(BindingFlags.Public | BindingFlags.Instance).Select(f => new Column(f.Name, f.GetValue)))
            .ToList();
    }

    private static bool IsTuple(Type type) => typeof(ITuple).IsAssignableFrom(type) && type.IsGenericType;

    private static string Cell(object? value) => value switch
    {
        null => Formatter.NullString,
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToDisplayString(PlainTextFormatter.MimeType),
    };

    private static string Html(List<Column> columns, List<string[]> rows, string? more)
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

    private static string Text(List<Column> columns, List<string[]> rows, string? more)
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
