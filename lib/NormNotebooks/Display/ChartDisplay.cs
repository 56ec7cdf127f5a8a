// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace NormNotebooks.Display;

/// <summary>
/// A chart as notebook output that shows everywhere: interactive where scripts run (VS Code, JupyterLab, classic Jupyter, an
/// nbconvert HTML export opened offline), a PNG where they do not (GitHub, PDF exports, untrusted notebooks).
/// </summary>
/// <remarks>
/// <para>The HTML holds, in order: plotly.js itself, inline, in the first chart of the notebook process only (3.6 MB, Plotly.NET's
/// own copy, so no network is needed; AMD's <c>define</c> is hidden while it runs, so under require.js it still sets
/// <c>window.Plotly</c>); the PNG as an <c>img</c>; an empty <c>div</c>; and the chart's render call, which waits for
/// <c>window.Plotly</c> (from the first chart, from the page, or else from require.js or a CDN when the first chart's output was
/// cleared), then draws into the <c>div</c> and hides the image. The PNG is also its own <c>image/png</c> alternative.</para>
/// <para>When no PNG can be drawn, the HTML carries the comment <c>&lt;!-- normnb: no static image: REASON --&gt;</c>, which
/// <c>normnb run</c> reports as a warning in its log and run summary.</para>
/// </remarks>
internal static partial class ChartDisplay
{
    private const string PlotlyCdn = "https://cdn.plot.ly/plotly-2.28.0.min";
    private static readonly Lock Gate = new();
    private static bool _embedded;
    private static string? _plotlyJs;
    private static string? _plotlyJsFile;

    /// <summary>A rendered chart: its HTML, and its PNG (base64) when one could be drawn.</summary>
    public sealed record Output(string Html, string? Png);

    /// <summary>Builds the output for a chart snippet (Plotly.NET's <c>toChartHTML</c> or XPlot's <c>GetInlineHtml</c>).</summary>
    public static Output Render(string snippet)
    {
        lock (Gate)
        {
            var (width, height) = Size(snippet);
            string? png = null, problem = null;
            try
            {
                png = PlotlyJs() is { } file ? Png(snippet, file, width, height) : null;
                problem = png is null ? HeadlessChromium.Problem ?? "plotly.js was not found in Plotly.NET" : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = $"the chart page could not be written: {e.Message}";   // e.g. a read-only cache folder
            }
            var html = new System.Text.StringBuilder("<div class=\"normnb-chart\">");
            if (!_embedded && _plotlyJs is not null)
            {
                html.Append("<script type=\"text/javascript\">window.__normnbDefine = window.define; window.define = undefined;</script>")
                    .Append("<script type=\"text/javascript\">").Append(_plotlyJs.Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase)).Append("</script>")
                    .Append("<script type=\"text/javascript\">window.define = window.__normnbDefine;</script>");
                _embedded = true;
            }
            var image = $"normnb-image-{Guid.NewGuid():N}";
            if (png is not null)
                html.Append(CultureInfo.InvariantCulture, $"<img id=\"{image}\" alt=\"chart\" style=\"max-width:100%\" src=\"data:image/png;base64,{png}\"/>");
            else
                html.Append(CultureInfo.InvariantCulture, $"<!-- normnb: no static image: {problem!.Replace("--", "—", StringComparison.Ordinal)} -->");
            html.Append(WaitForPlotly(snippet, image)).Append("</div>");
            return new Output(html.ToString(), png);
        }
    }

    /// <summary>Replaces the snippet's immediate render call with one that waits for plotly.js, then hides the static image.</summary>
    internal static string WaitForPlotly(string snippet, string imageId)
    {
        var call = RenderCall().Match(snippet);
        if (!call.Success)   // XPlot: the snippet draws at once with window.Plotly (there from the first chart); then hide the image
            return snippet + $"<script type=\"text/javascript\">if (typeof window.Plotly !== 'undefined') {{ var i = document.getElementById('{imageId}'); if (i) {{ i.style.display = 'none'; }} }}</script>";
        var render = call.Groups["fn"].Value;
        var loader = $$"""
            (function () {
              var go = function (P) {
                window.Plotly = window.Plotly || P;
                var image = document.getElementById('{{imageId}}');
                if (image) { image.style.display = 'none'; }
                {{render}}();
              };
              if (typeof window.Plotly !== 'undefined') { go(window.Plotly); return; }
              if (typeof window.requirejs !== 'undefined') {
                window.requirejs.config({ paths: { plotly: '{{PlotlyCdn}}' } });
                window.requirejs(['plotly'], go);
                return;
              }
              var tag = document.getElementById('normnb-plotly-js');
              if (!tag) {
                tag = document.createElement('script');
                tag.id = 'normnb-plotly-js';
                tag.src = '{{PlotlyCdn}}.js';
                document.head.appendChild(tag);
              }
              tag.addEventListener('load', function () { go(window.Plotly); });
            })();
            """;
        return snippet[..call.Index] + loader + snippet[(call.Index + call.Length)..];
    }

    // Plotly.NET's own plotly.js, written once per version to the cache so the browser can load it as a file.
    private static string? PlotlyJs()
    {
        if (_plotlyJsFile is not null)
            return _plotlyJsFile;
        var assembly = typeof(Plotly.NET.GenericChart).Assembly;
        var resource = assembly.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".min.js", StringComparison.Ordinal));
        if (resource is null)
            return null;
        using (var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!))
            _plotlyJs = reader.ReadToEnd();
        var target = Path.Combine(Runtime.TorchRuntime.CacheRoot(), "plotly", resource);
        if (!File.Exists(target))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temp = $"{target}.{Environment.ProcessId}.tmp";
            File.WriteAllText(temp, _plotlyJs);
            File.Move(temp, target, overwrite: true);
        }
        return _plotlyJsFile = target;
    }

    private static string? Png(string snippet, string plotlyJs, int width, int height)
    {
        if (HeadlessChromium.Problem is not null)
            return null;
        var folder = Runtime.ProcessFolders.Create("normnb-chart");
        try
        {
            var page = Path.Combine(folder.FullName, "chart.html");
            File.WriteAllText(page,
                "<!DOCTYPE html><html><head><meta charset=\"utf-8\">" +
                $"<script src=\"{new Uri(plotlyJs).AbsoluteUri}\"></script>" +
                "<script>var newPlot = Plotly.newPlot; Plotly.newPlot = function () { return newPlot.apply(this, arguments)" +
                ".then(function (gd) { window.__normnbDone = true; return gd; }); };</script>" +
                "<style>.modebar-container{display:none}</style></head>" +
                $"<body style=\"margin:0;background:white\">{snippet}</body></html>");
            return HeadlessChromium.Screenshot(new Uri(page).AbsoluteUri, width, height);
        }
        finally
        {
            Runtime.ProcessFolders.Delete(folder);
        }
    }

    private static (int Width, int Height) Size(string snippet)
    {
        var width = LayoutWidth().Match(snippet) is { Success: true } w ? w : StyleSize().Match(snippet);
        var height = LayoutHeight().Match(snippet) is { Success: true } h ? h : StyleSize().Match(snippet);
        return (width.Success ? (int)double.Parse(width.Groups[1].Value, CultureInfo.InvariantCulture) : 700,
                height.Success ? (int)double.Parse(height.Groups[height.Groups.Count > 2 ? 2 : 1].Value, CultureInfo.InvariantCulture) : 500);
    }

    [GeneratedRegex(@"(?<fn>renderPlotly_[0-9a-fA-F]+)\(\);")]
    private static partial Regex RenderCall();

    [GeneratedRegex("""var layout = \{"width":([0-9.]+)""")]
    private static partial Regex LayoutWidth();

    [GeneratedRegex("""var layout = \{(?:"width":[0-9.]+,)?"height":([0-9.]+)""")]
    private static partial Regex LayoutHeight();

    // XPlot sizes the chart's div: style="width: 900px; height: 500px;"
    [GeneratedRegex("""style="width: ([0-9.]+)px; height: ([0-9.]+)px;""")]
    private static partial Regex StyleSize();
}
