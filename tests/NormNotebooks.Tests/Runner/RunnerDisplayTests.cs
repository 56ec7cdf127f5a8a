// SPDX-License-Identifier: MIT
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>Sequences, and the library's chart display: Plotly.NET and XPlot charts as interactive HTML with plotly.js embedded once
/// per notebook, and a static PNG inside the HTML and beside it where Chromium exists (one browser for all of them).</summary>
[Trait("Category", "Packages")]
[UnsupportedOSPlatform("windows")]
public sealed class RunnerDisplayTests : IClassFixture<RunnerDisplayTests.Executed>
{
    public sealed class Executed : IDisposable
    {
        public Executed()
        {
            Scratch = new NotebookScratch();
            var source = Scratch.Copy("display.ipynb");
            Directory.CreateDirectory(Path.Combine(Scratch.Folder, "lib"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "NormNotebooks.dll"), Path.Combine(Scratch.Folder, "lib", "NormNotebooks.dll"));
            (ExitCode, Stdout, _) = Run(source, "--output", Path.Combine(Scratch.Folder, "out"));
            Notebook = Read(Path.Combine(Scratch.Folder, "out", "display.ipynb"));
            // The same notebook where no image can be drawn.
            (NoImagesExitCode, NoImagesStdout, _) = Cli.CliTests.Normnb(new Dictionary<string, string> { ["NORMNB_CHART_IMAGES"] = "0" },
                "run", source, "--output", Path.Combine(Scratch.Folder, "no-images"));
            NoImages = Read(Path.Combine(Scratch.Folder, "no-images", "display.ipynb"));
            NoImagesSummary = Read(Path.Combine(Scratch.Folder, "no-images", "display.run.json"));
        }

        public NotebookScratch Scratch { get; }
        public int ExitCode { get; }
        public string Stdout { get; }
        public JsonObject Notebook { get; }
        public int NoImagesExitCode { get; }
        public string NoImagesStdout { get; }
        public JsonObject NoImages { get; }
        public JsonObject NoImagesSummary { get; }

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
    public void Charts_AreInteractiveHtml_WithPlotlyJsEmbeddedOnce_AndAStaticImageExactlyWhereChromiumExists()
    {
        Assert.True(_run.ExitCode == 0, _run.Stdout);
        var first = Text(Data("t-chart")["text/html"]);
        var second = Text(Data("t-chart2")["text/html"]);
        Assert.Contains("Plotly.newPlot(", first);
        Assert.Contains("window.__normnbDefine = window.define", first);   // plotly.js inline, AMD's define hidden while it runs
        Assert.True(first.Length > 3_000_000, $"the first chart holds {first.Length} characters; plotly.js alone is 3.6 MB");
        Assert.DoesNotContain("__normnbDefine", second);
        Assert.True(second.Length < 100_000, $"the second chart holds {second.Length} characters");
        foreach (var id in new[] { "t-chart", "t-chart2", "t-xplot" })
        {
            var data = Data(id);
            var html = Text(data["text/html"]);
            Assert.Equal(Machine.Chromium is not null, data["image/png"] is not null);
            Assert.Equal(Machine.Chromium is not null, html.Contains("<img id=\"normnb-image-", StringComparison.Ordinal));
            Assert.Contains("(interactive chart: open the notebook in VS Code or Jupyter)", Text(data["text/plain"]));
        }
    }

    [ChromiumFact]
    [Trait("Category", "Chromium")]
    public void StaticImages_AreDrawnPngs_TheSameInsideTheHtml()
    {
        foreach (var id in new[] { "t-chart", "t-chart2", "t-xplot" })
        {
            var base64 = (string)Data(id)["image/png"]!;
            var png = Convert.FromBase64String(base64);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.True(png.Length > 3_000, $"{id}: a {png.Length}-byte PNG is too small to hold a drawn chart");
            Assert.Contains($"src=\"data:image/png;base64,{base64}\"", Text(Data(id)["text/html"]));
        }
    }

    [Fact]
    public void ABrokenBrowser_LeavesTheChartsWithoutImages_AndTheCellsSucceed()
    {
        using var scratch = new NotebookScratch();
        var source = scratch.Copy("display.ipynb");
        Directory.CreateDirectory(Path.Combine(scratch.Folder, "lib"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "NormNotebooks.dll"), Path.Combine(scratch.Folder, "lib", "NormNotebooks.dll"));
        var bin = Directory.CreateDirectory(Path.Combine(scratch.Folder, "bin")).FullName;
        var fake = scratch.WriteText(Path.Combine("bin", "chromium"), "#!/bin/sh\necho 'chromium: cannot open display' >&2\nexit 1\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var (exit, stdout, _) = Cli.CliTests.Normnb(new Dictionary<string, string> { ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}" },
            "run", source, "--output", Path.Combine(scratch.Folder, "out"));
        Assert.True(exit == 0, stdout);
        Assert.Contains("a chart has no static image (headless Chromium failed: Chromium exited", stdout);
        var notebook = Read(Path.Combine(scratch.Folder, "out", "display.ipynb"));
        Assert.Null(Outputs(notebook, "t-chart").Last()!["data"]!["image/png"]);
        Assert.Contains("Plotly.newPlot(", Text(Outputs(notebook, "t-chart").Last()!["data"]!["text/html"]));
    }

    [Fact]
    public void WithoutImages_ChartsStillShow_AndTheRunWarnsOncePerCell()
    {
        Assert.True(_run.NoImagesExitCode == 0, _run.NoImagesStdout);
        var data = Outputs(_run.NoImages, "t-chart").Last()!["data"]!;
        Assert.Null(data["image/png"]);
        Assert.Contains("<!-- normnb: no static image: NORMNB_CHART_IMAGES=0 -->", Text(data["text/html"]));
        var warnings = ((JsonArray)_run.NoImagesSummary["warnings"]!).Select(w => (string?)w).ToList();
        Assert.Equal(
            ["cell 2: a chart has no static image (NORMNB_CHART_IMAGES=0); it shows only where scripts run",
             "cell 3: a chart has no static image (NORMNB_CHART_IMAGES=0); it shows only where scripts run",
             "cell 4: a chart has no static image (NORMNB_CHART_IMAGES=0); it shows only where scripts run"], warnings);
        Assert.Contains("⚠ cell 2: a chart has no static image", _run.NoImagesStdout);
    }
}
