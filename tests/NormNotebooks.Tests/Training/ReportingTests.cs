// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Plots;
using NormNotebooks.Reporting;
using NormNotebooks.Training;
using Plotly.NET;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Training;

/// <summary>The grid runner, the claims table and the chart helpers.</summary>
public sealed class ReportingTests
{
    private static readonly CharDataset Tiny = new(
        Enumerable.Range(0, 10).Select(i => string.Concat(Enumerable.Repeat($"round and round {i % 2} we go. ", 10))).ToList(), validationEvery: 5);

    private static TrainingResult Train(int steps, string name)
    {
        manual_seed(5);
        var model = new CharTransformer(new TransformerConfig(Tiny.VocabularySize, Width: 16, Depth: 1, Heads: 2, Context: 16));
        return LanguageModelTrainer.Train(name, model, Tiny, new TrainingConfig(steps, BatchSize: 4, Context: 16, EvaluationBatches: 1));
    }

    [Fact]
    public void Grid_SavesEachRun_AndResumesWithoutTrainingAgain()
    {
        var folder = Path.Combine(Path.GetTempPath(), "normnb-grid-" + Guid.NewGuid().ToString("N"));
        try
        {
            var trained = new List<int>();
            TrainingResult Run(int steps) { trained.Add(steps); return Train(steps, $"s{steps}"); }
            var first = Grid.Run([2, 3], s => $"steps={s}", Run, folder);
            var second = Grid.Run([2, 3, 4], s => $"steps={s}", Run, folder);
            Assert.Equal([2, 3, 4], trained);
            Assert.Equal(first[1].Steps, second[1].Steps);
            Assert.Equal(3, Directory.GetFiles(folder, "*.json").Length);
            Assert.Throws<ArgumentException>(() => Grid.Run([1], _ => "../escape", Run, folder));
            Assert.Throws<ArgumentException>(() => Grid.Run([1, 2], _ => "same", Run));
            File.WriteAllText(Path.Combine(folder, "steps=9.json"), "{ not json");
            Assert.Contains("steps=9.json", Assert.Throws<InvalidDataException>(() => Grid.Run([9], s => $"steps={s}", Run, folder)).Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Charts_CarryTheirSeriesTitlesAndAxes()
    {
        var run = Train(3, "curve");
        var html = GenericChart.toChartHTML(Charts.TrainingCurves("loss falls", [run], smooth: 2, logX: true));
        Assert.Contains("loss falls", html);
        Assert.Contains("\"type\":\"log\"", html);
        Assert.Contains("curve", html);
        Assert.Contains("layer", GenericChart.toChartHTML(Charts.PerLayer("profile", [("pre", new[] { 1.0, 2, 3 })], "grad norm", logY: true)));
        Assert.Contains("heatmap", GenericChart.toChartHTML(Charts.Heatmap("h", [[1.0, 2], [3, 4]], ["a", "b"], ["0", "1"], "layer", "step")));
        var bars = GenericChart.toChartHTML(Charts.Bars("b", ["x", "y"], [("s", new[] { 1.0, 2 }, new[] { 0.1, 0.2 })], "v"));
        Assert.Contains("\"type\":\"bar\"", bars);
        Assert.Contains("\"type\":\"category\"", bars);                  // a linear x axis draws string keys as nothing
        Assert.DoesNotContain("\"type\":\"linear\",\"showgrid\":true,\"zeroline\":false},\"yaxis\"", bars);
        var withBaselines = GenericChart.toChartHTML(Charts.TrainingCurves("vs n-grams", [run], references: [("trigram", 2.125), ("unigram", 3.1)]));
        Assert.Contains("trigram 2.125", withBaselines);
        Assert.Contains("\"dash\":\"dash\"", withBaselines);
        Assert.Equal([1, 1.5, 2.5, 3.5], Charts.MovingAverage([1, 2, 3, 4], 2));
        Assert.Equal("a short title", Charts.WrapTitle("a short title"));
        var wrapped = Charts.WrapTitle(string.Join(' ', Enumerable.Repeat("word", 40)), 30);
        Assert.All(wrapped.Split("<br>"), line => Assert.InRange(line.Length, 1, 30));
        Assert.Equal(string.Join(' ', Enumerable.Repeat("word", 40)), wrapped.Replace("<br>", " "));
    }

    [Fact]
    public void FitChart_DrawsPointsLinesAndBands_SharingColoursByIndex_AndLeavesOutSeriesWithNothingToDraw()
    {
        var html = GenericChart.toChartHTML(Charts.Fit("frontier", [new Series("runs, N = 10k", [1e10, 1e11], [2.5, 2.2]), new Series("no data", [1.0], [double.NaN])],
            [new Series("fit", [1e10, 1e11], [2.4, 2.1])], [new Band("band", [1e10, 1e11], [2.4, 2.1], [2.3, 2.0], [2.5, 2.2])], "C", "loss", logX: true,
            dashLines: true, firstBandColour: 2));
        Assert.Contains("runs, N = 10k", html);
        Assert.DoesNotContain("no data", html);                        // an all-NaN series would be an empty trace
        Assert.Contains("\"dash\":\"dash\"", html);
        Assert.Contains("\"fill\":\"tonexty\"", html);                   // the band's shaded range
        Assert.Contains("rgba(0,158,115,0.25)", html);                    // band colour 2 (#009E73) at a quarter opacity
        Assert.Contains($"\"color\":\"{Charts.Palette[0]}\"", html);    // points and line of index 0 share the first colour
    }

    [Fact]
    public void ConsoleProgress_WritesALineEveryTenPercent_OrRewritesOneLine()
    {
        static TrainingProgress At(int step) => new(step, 50, 2.5, null, 1000, "tokens", TimeSpan.FromSeconds(50 - step), "run");
        var log = new StringWriter();
        var report = ConsoleProgress.Create(log, inPlace: false);
        for (var step = 1; step <= 50; step++)
            report(At(step));
        var lines = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(11, lines.Length);   // 0%, 10%, …, 100%
        Assert.StartsWith("run [####################] step 50/50  loss 2.500", lines[^1]);
        var terminal = new StringWriter();
        var inPlace = ConsoleProgress.Create(terminal, inPlace: true);
        inPlace(At(1));
        inPlace(At(50));
        Assert.Equal(2, terminal.ToString().Count(c => c == '\r'));
        Assert.EndsWith(Environment.NewLine, terminal.ToString());
    }
}
