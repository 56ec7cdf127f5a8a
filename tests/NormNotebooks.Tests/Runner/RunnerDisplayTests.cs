// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>Sequences, and Plotly.NET charts (interactive HTML plus a static PNG where Chromium exists).</summary>
[Trait("Category", "Packages")]
public sealed class RunnerDisplayTests : IClassFixture<RunnerDisplayTests.Executed>
{
    public sealed class Executed : IDisposable
    {
        public Executed()
        {
            Scratch = new NotebookScratch();
            var source = Scratch.Copy("display.ipynb");
            (ExitCode, Stdout, _) = Run(source, "--output", Path.Combine(Scratch.Folder, "out"));
            Notebook = Read(Path.Combine(Scratch.Folder, "out", "display.ipynb"));
        }

        public NotebookScratch Scratch { get; }
        public int ExitCode { get; }
        public string Stdout { get; }
        public JsonObject Notebook { get; }

        public void Dispose() => Scratch.Dispose();
    }

    private readonly Executed _run;

    public RunnerDisplayTests(Executed run) => _run = run;

    private JsonNode Data(string id) => Outputs(_run.Notebook, id).Last()!["data"]!;

    [Fact]
    public void PrimitiveSequences_KeepTheKernelsRendering()
    {
        Assert.True(_run.ExitCode == 0, _run.Stdout);
        Assert.Equal("[ 1, 2, 3 ]", Text(Data("t-ints")["text/plain"]));
    }

    [Fact]
    public void PlotlyChart_IsInteractiveHtml_LoadingPlotlyJsOnce_WithAStaticImageExactlyWhereChromiumExists()
    {
        var data = Data("t-chart");
        var html = Text(data["text/html"]);
        Assert.Contains("Plotly.newPlot(", html);
        Assert.Contains("normnb-plotly-js", html);   // the shared script tag that loads plotly.js once per page
        Assert.Contains("requirejs", html);
        Assert.Equal(Machine.Chromium is not null, data["image/png"] is not null);
    }

    [ChromiumFact]
    [Trait("Category", "Chromium")]
    public void PlotlyChart_StaticImage_IsADrawnPng()
    {
        var png = Convert.FromBase64String((string)Data("t-chart")["image/png"]!);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(png.Length > 5_000, $"a {png.Length}-byte PNG is too small to hold a drawn chart");
    }
}
