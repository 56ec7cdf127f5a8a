// SPDX-License-Identifier: MIT
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.DotNet.Interactive.Formatting;

namespace NormNotebooks.Runner;

/// <summary>
/// text/html (and, where Chromium is installed, image/png) formatters for Plotly.NET's <c>GenericChart</c> and
/// XPlot.Plotly's <c>PlotlyChart</c>, the job their <c>*.Interactive</c> extension packages do in .NET Interactive
/// (those packages need the kernel, which is not available). Registered by reflection when the chart assembly
/// loads, so the runner binds to no particular Plotly.NET version.
/// </summary>
/// <remarks>
/// The HTML is the library's own chart snippet whose render call waits for plotly.js: taken from <c>window.Plotly</c>
/// when present, through require.js when the page has it (classic Jupyter), else from a script tag added once per
/// page — so plotly.js loads once per notebook. The PNG is the same chart drawn by headless Chromium with the
/// plotly.js that Plotly.NET embeds, so the plot shows where JavaScript does not run (GitHub, PDF exports).
/// </remarks>
internal static partial class ChartFormatters
{
    private const string PlotlyCdn = "https://cdn.plot.ly/plotly-2.28.0.min";
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            AssemblyWatch.ForEachLoaded(TryRegister);
    }

    private static void TryRegister(Assembly assembly)
    {
        switch (assembly.GetName().Name)
        {
            case "Plotly.NET":
                var chartType = assembly.GetType("Plotly.NET.GenericChart");
                var toHtml = chartType?.GetMethod("toChartHTML", BindingFlags.Public | BindingFlags.Static, [chartType]);
                if (chartType is null || toHtml is null)
                    return;
                StaticChartImage.UsePlotlyJsFrom(assembly);
                RegisterChart(chartType, chart => (string)toHtml.Invoke(null, [chart])!);
                break;
            case "XPlot.Plotly":
                var plotlyChart = assembly.GetType("XPlot.Plotly.PlotlyChart");
                var inline = plotlyChart?.GetMethod("GetInlineHtml", Type.EmptyTypes);
                if (plotlyChart is null || inline is null)
                    return;
                RegisterChart(plotlyChart, chart => (string)inline.Invoke(chart, null)!);
                break;
        }
    }

    private static void RegisterChart(Type type, Func<object, string> snippet)
    {
        Formatter.Register(type, (value, writer) => writer.Write(WaitForPlotly(snippet(value))), HtmlFormatter.MimeType);
        Formatter.Register(type, (value, writer) => writer.Write(StaticChartImage.RenderPng(snippet(value)) ?? ""), "image/png");
        Formatter.Register(type, (value, writer) => writer.Write($"{type.Name} (interactive chart; open the notebook in VS Code or Jupyter)"), PlainTextFormatter.MimeType);
        var mimes = StaticChartImage.Available ? new[] { HtmlFormatter.MimeType, "image/png" } : [HtmlFormatter.MimeType];
        Formatter.SetPreferredMimeTypesFor(type, mimes);
    }

    /// <summary>Replaces the snippet's immediate render call with one that first makes sure plotly.js is loaded.</summary>
    internal static string WaitForPlotly(string snippet)
    {
        var call = RenderCall().Match(snippet);
        if (!call.Success)
            return snippet;
        var render = call.Groups["fn"].Value;
        var loader = $$"""
            (function () {
              var go = function (P) { window.Plotly = window.Plotly || P; {{render}}(); };
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

    [GeneratedRegex(@"(?<fn>renderPlotly_[0-9a-fA-F]+)\(\);")]
    private static partial Regex RenderCall();
}
