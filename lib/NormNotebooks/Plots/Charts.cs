// SPDX-License-Identifier: MIT
using NormNotebooks.Training;
using Plotly.NET;
using Microsoft.FSharp.Core;
using Plotly.NET.CSharp;
using Chart = Plotly.NET.CSharp.Chart;

namespace NormNotebooks.Plots;

/// <summary>One named series of a line chart.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>A fitted curve with its interval band (e.g. the 95 % bootstrap band of a scaling law), drawn as a line over a shaded range.</summary>
public sealed record Band(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, IReadOnlyList<double> Lower, IReadOnlyList<double> Upper);

/// <summary>
/// Plotly.NET charts with one look for every notebook: a white template, one colour cycle, 760×420 pixels, titles that state the
/// finding, axis titles always, log axes on request. Each returns a <see cref="GenericChart"/>, which displays inline under normnb run
/// and in VS Code (with Plotly.NET.Interactive there).
/// </summary>
public static class Charts
{
    /// <summary>The colour cycle (Okabe–Ito, distinguishable with colour-vision deficiency).</summary>
    public static IReadOnlyList<string> Palette { get; } = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

    /// <summary>Lines, one per series.</summary>
    public static GenericChart Lines(string title, IEnumerable<Series> series, string xTitle, string yTitle, bool logX = false, bool logY = false,
        bool markers = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var charts = series.Select((s, i) => Chart.Line<double, double, string>(
            x: s.X, y: s.Y, Name: s.Name, ShowMarkers: markers, LineColor: Color.fromString(Palette[i % Palette.Count]),
            MarkerColor: Color.fromString(Palette[i % Palette.Count]))).ToList();
        return Style(Chart.Combine(charts), title, xTitle, yTitle, logX, logY);
    }

    /// <summary>Measurements against fits: <paramref name="points"/> as markers, <paramref name="lines"/> as lines (dashed with
    /// <paramref name="dashLines"/>), <paramref name="bands"/> as a line over its shaded interval; one colour per index in each list, so
    /// the points, the line and the band of the same index share it (a model size's runs and its fitted curve); bands start at colour
    /// <paramref name="firstBandColour"/> to stand apart from the points. A series or band without a finite value (a fit that gave
    /// nothing at this size of sweep) is left out of the chart, keeping its colour slot, rather than drawn as an empty trace.</summary>
    public static GenericChart Fit(string title, IEnumerable<Series> points, IEnumerable<Series>? lines, IEnumerable<Band>? bands, string xTitle, string yTitle,
        bool logX = false, bool logY = false, bool dashLines = false, int firstBandColour = 0)
    {
        ArgumentNullException.ThrowIfNull(points);
        var charts = new List<GenericChart>();
        foreach (var (b, i) in (bands ?? []).Select((b, i) => (b, i)).Where(x => x.b.Y.Any(double.IsFinite)))
        {
            var colour = Palette[(i + firstBandColour) % Palette.Count];
            charts.Add(Chart.Range<double, double, string>(x: b.X, y: b.Y, upper: b.Upper, lower: b.Lower, mode: StyleParam.Mode.Lines, Name: b.Name,
                LineColor: Color.fromString(colour), RangeColor: Color.fromString(Translucent(colour)), UpperName: b.Name + " (upper)", LowerName: b.Name + " (lower)"));
        }
        foreach (var (l, i) in (lines ?? []).Select((l, i) => (l, i)).Where(x => x.l.Y.Any(double.IsFinite)))
            charts.Add(Chart.Line<double, double, string>(x: l.X, y: l.Y, Name: l.Name, LineColor: Color.fromString(Palette[i % Palette.Count]),
                LineDash: dashLines ? StyleParam.DrawingStyle.Dash : StyleParam.DrawingStyle.Solid));
        foreach (var (p, i) in points.Select((p, i) => (p, i)).Where(x => x.p.Y.Any(double.IsFinite)))
            charts.Add(Chart.Point<double, double, string>(x: p.X, y: p.Y, Name: p.Name, MarkerColor: Color.fromString(Palette[i % Palette.Count])));
        return Style(Chart.Combine(charts), title, xTitle, yTitle, logX, logY);
    }

    /// <summary>Training curves: loss against step (or tokens/images seen, with <paramref name="examplesOnX"/>), one line per run, moving
    /// average of <paramref name="smooth"/> steps; validation points as markers where the runs have them; <paramref name="references"/>
    /// as dashed grey horizontal lines named with their value (the n-gram baselines of <see cref="Data.NGramModel"/>).</summary>
    public static GenericChart TrainingCurves(string title, IEnumerable<TrainingResult> runs, int smooth = 1, bool logX = false, bool logY = false,
        bool validation = true, bool examplesOnX = false, IEnumerable<(string Name, double Loss)>? references = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        runs = runs.ToList();
        var charts = new List<GenericChart>();
        var i = 0;
        foreach (var run in runs)
        {
            var colour = Color.fromString(Palette[i++ % Palette.Count]);
            var scale = examplesOnX ? run.Training.BatchSize * (run.Task == "language-model" ? run.Training.Context : 1) : 1.0;
            var x = run.Steps.Select(s => (s.Step + 1) * scale).ToArray();
            charts.Add(Chart.Line<double, double, string>(x: x, y: MovingAverage(run.Steps.Select(s => s.Loss).ToArray(), smooth),
                Name: run.Name, LineColor: colour));
            var evaluated = run.Steps.Where(s => s.ValidationLoss is not null).ToList();
            if (validation && evaluated.Count > 0)
                charts.Add(Chart.Point<double, double, string>(x: evaluated.Select(s => (s.Step + 1) * scale), y: evaluated.Select(s => s.ValidationLoss!.Value),
                    Name: run.Name + " (validation)", MarkerColor: colour, ShowLegend: false));
        }
        if (references is not null && charts.Count > 0)
        {
            var last = runs.Max(r => (r.Steps.Count == 0 ? 1 : r.Steps[^1].Step + 1) * (examplesOnX ? r.Training.BatchSize * (r.Task == "language-model" ? r.Training.Context : 1) : 1.0));
            var first = examplesOnX ? runs.Min(r => r.Training.BatchSize * (r.Task == "language-model" ? r.Training.Context : 1.0)) : 1.0;
            StyleParam.DrawingStyle[] dashes = [StyleParam.DrawingStyle.Dash, StyleParam.DrawingStyle.Dot, StyleParam.DrawingStyle.DashDot, StyleParam.DrawingStyle.LongDash];
            foreach (var ((name, loss), k) in references.Select((r, k) => (r, k)))
                charts.Add(Chart.Line<double, double, string>(x: [first, last], y: [loss, loss], Name: $"{name} {loss:F3}", LineColor: Color.fromString("#7f7f7f"),
                    LineDash: dashes[k % dashes.Length], ShowMarkers: false));
        }
        var unit = runs.FirstOrDefault()?.ThroughputUnit ?? "examples";
        return Style(Chart.Combine(charts), title, examplesOnX ? unit + " seen" : "step", "loss (nats)", logX, logY);
    }

    /// <summary>Per-layer profiles: x = layer index (from <paramref name="firstLayer"/>), one line per series.</summary>
    public static GenericChart PerLayer(string title, IEnumerable<(string Name, double[] Values)> profiles, string yTitle, bool logY = false, int firstLayer = 1,
        string xTitle = "layer")
    {
        ArgumentNullException.ThrowIfNull(profiles);
        return Lines(title, profiles.Select(p => new Series(p.Name, p.Values.Select((_, l) => (double)(l + firstLayer)).ToArray(), p.Values)),
            xTitle, yTitle, logY: logY, markers: true);
    }

    /// <summary>A heatmap of <paramref name="z"/>[row][column], e.g. a probe over steps (rows) and layers (columns).</summary>
    public static GenericChart Heatmap(string title, IReadOnlyList<double[]> z, IReadOnlyList<string> columns, IReadOnlyList<string> rows,
        string xTitle, string yTitle, bool logColour = false)
    {
        ArgumentNullException.ThrowIfNull(z);
        var values = logColour ? z.Select(r => r.Select(v => Math.Log10(Math.Max(v, 1e-300))).ToArray()).ToList() : z.ToList();
        var chart = Chart.Heatmap<double, string, string, string>(zData: values, X: columns.ToArray(), Y: rows.ToArray(),
            ColorScale: StyleParam.Colorscale.Viridis, Name: logColour ? "log₁₀" : "");
        return Style(chart, title, xTitle, yTitle, false, false);
    }

    /// <summary>Grouped bars: one group per category, one bar per series, with optional error bars (± one standard deviation).</summary>
    public static GenericChart Bars(string title, IReadOnlyList<string> categories, IEnumerable<(string Name, double[] Values, double[]? Errors)> series,
        string yTitle, bool logY = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var charts = series.Select((s, i) =>
        {
            var bar = Chart.Column<double, string, string>(values: s.Values, Keys: categories.ToArray(), Name: s.Name,
                MarkerColor: Color.fromString(Palette[i % Palette.Count]));
            return s.Errors is null ? bar : Plotly.NET.Chart.withYErrorStyle<double, double>(Visible: Some(true), Type: null, Symmetric: null, Array: Some<IEnumerable<double>>(s.Errors),
                Arrayminus: null, Value: null, Valueminus: null, Traceref: null, Tracerefminus: null, Copy_ystyle: null, Color: null, Thickness: null, Width: null).Invoke(bar);
        }).ToList();
        return Style(Chart.Combine(charts), title, "", yTitle, false, logY, categoricalX: true);
    }

    /// <summary>Moving average over a trailing window of <paramref name="window"/> values (the first values average what exists).</summary>
    public static double[] MovingAverage(IReadOnlyList<double> values, int window)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        var result = new double[values.Count];
        double sum = 0;
        for (var i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window)
                sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }

    // Categories (bar keys) need a category x axis: a linear one has no place for strings and draws nothing.
    private static GenericChart Style(GenericChart chart, string title, string xTitle, string yTitle, bool logX, bool logY, bool categoricalX = false)
    {
        var titled = Plotly.NET.Chart.withTitle(WrapTitle(title), Some(Font.init(Some(StyleParam.FontFamily.Arial), Some(16.0), null))).Invoke(chart);
        var xType = categoricalX ? StyleParam.AxisType.Category : logX ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear;
        return titled
            .WithXAxisStyle<double, double, string>(TitleText: xTitle, AxisType: xType, ShowGrid: true, ZeroLine: false)
            .WithYAxisStyle<double, double, string>(TitleText: yTitle, AxisType: logY ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear, ShowGrid: true, ZeroLine: false)
            .WithSize(760, 420);
    }

    /// <summary>Breaks a title into lines of at most <paramref name="width"/> characters at spaces (Plotly's &lt;br&gt;): titles state
    /// findings with numbers, and one long line runs off a 760-pixel chart.</summary>
    public static string WrapTitle(string title, int width = 80)
    {
        ArgumentNullException.ThrowIfNull(title);
        var lines = new List<string>();
        var line = new System.Text.StringBuilder();
        foreach (var word in title.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Add(line.ToString());
                line.Clear();
            }
            line.Append(line.Length > 0 ? " " : "").Append(word);
        }
        lines.Add(line.ToString());
        return string.Join("<br>", lines);
    }

    private static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);

    // "#RRGGBB" at a quarter opacity, for a band under its line.
    private static string Translucent(string hex) =>
        $"rgba({Convert.ToInt32(hex[1..3], 16)},{Convert.ToInt32(hex[3..5], 16)},{Convert.ToInt32(hex[5..7], 16)},0.25)";
}
