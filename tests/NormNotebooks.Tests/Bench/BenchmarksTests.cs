// SPDX-License-Identifier: MIT
using NormNotebooks.Bench;
using NormNotebooks.Runtime;
using NormNotebooks.Models;
using NormNotebooks.Norms;

namespace NormNotebooks.Tests.Bench;

/// <summary>The suites' bookkeeping on tiny sizes (never their timings).</summary>
public sealed class BenchmarksTests
{
    [Fact]
    public void PairedSpeedup_IsTheGeometricMeanOfBlockRatios_WithAnInterval()
    {
        var baseline = new Timing("a", 2, 2, 2, 20, Enumerable.Repeat(2.0, 20).ToArray());
        var candidate = new Timing("b", 1, 1, 1, 20, Enumerable.Range(0, 20).Select(i => i < 10 ? 0.8 : 1.25).ToArray());
        var speedup = Benchmarks.PairedSpeedup(baseline, candidate)!;
        Assert.Equal(Math.Sqrt(2.5 * 1.6), speedup.Estimate, 12);     // blocks of 2 rounds: five at 2/0.8, five at 2/1.25
        Assert.True(speedup.Lower < speedup.Estimate && speedup.Estimate < speedup.Upper);
        Assert.Null(Benchmarks.PairedSpeedup(baseline with { RoundsMs = [2.0] }, candidate));
    }

    [Fact]
    public void NormsSuite_TimesEachImplementationForwardAndBoth_AndComparesRmsNormWithLayerNorm()
    {
        var (cases, comparisons) = Benchmarks.Norms(64, 48, TimeSpan.Zero, copy: 10);
        Assert.Equal(8, cases.Count);
        Assert.Equal(["libtorch layer_norm forward", "libtorch layer_norm forward+backward"], cases.Select(c => c.Baseline).Distinct());
        Assert.All(cases, c => Assert.True(c.Speedup > 0 && c.SpeedupInterval is { Lower: > 0 }, c.Name));
        Assert.Equal(["fused RMSNorm forward", "fused RMSNorm forward+backward"], comparisons.Select(c => c.Case));
        Assert.Equal(["fused LayerNorm forward", "fused LayerNorm forward+backward"], comparisons.Select(c => c.Over));
    }

    [Fact]
    public void SoftmaxSuite_TimesTheThreeAlgorithmsAgainstTorch_WithTheirTraffic_AtEachShape()
    {
        var cases = Benchmarks.SoftmaxAt(3, 100, TimeSpan.Zero, copy: 10);
        Assert.Equal(["torch.softmax", "three-pass recompute", "three-pass reload", "two-pass"], cases.Select(c => c.Name));
        Assert.All(cases, c => Assert.Equal(2 * Benchmarks.Blocks, c.Timing.Runs));
        Assert.All(cases, c => Assert.Equal(2 * 4.0 * 300, c.Bytes));
        Assert.Equal([0, 4 * 4.0 * 300, 5 * 4.0 * 300, 3 * 4.0 * 300], cases.Select(c => c.TrafficBytes));
        Assert.Equal("[3, 100] float32 (rows in cache)", cases[0].Shape);
        // Page faults per timed run are counted (Linux) and never negative; the kernels' preallocated rows are not counted here
        // as 0 because a first call of jitted code may fault on its own pages.
        Assert.All(cases, c => Assert.True(PageFaults.Available ? c.PageFaultsPerRun >= 0 : c.PageFaultsPerRun is null, $"{c.Name}: {c.PageFaultsPerRun}"));
        var repeated = Benchmarks.SoftmaxAt(3, 100, TimeSpan.Zero, copy: 10, repeats: 5);
        Assert.Equal(5 * 2 * 4.0 * 300, repeated[1].Bytes);
        Assert.Equal(5 * 4 * 4.0 * 300, repeated[1].TrafficBytes);
        Assert.EndsWith("× 5 calls", repeated[0].Shape);
        Assert.Equal(4, Benchmarks.SoftmaxAt(2, 50, TimeSpan.Zero, copy: 10, direct: true).Count);
        var (suite, comparisons) = Benchmarks.Softmax(2, 64, TimeSpan.Zero, copy: 10);
        Assert.Equal(9, suite.Count);                                    // two shapes of four, and the exp ceiling
        Assert.Equal(["two-pass", "two-pass"], comparisons.Select(c => c.Case));
        Assert.Equal(["three-pass reload", "three-pass reload"], comparisons.Select(c => c.Over));
    }

    [Fact]
    public void MemoryCopyBandwidth_IsPositiveAndFinite_AtAnySize_AndRejectsNone()
    {
        Assert.All(new long[] { 1, 1000, 1 << 20 }, floats => Assert.True(Benchmarks.MemoryCopyBandwidth(floats, TimeSpan.Zero) is > 0 and < double.PositiveInfinity));
        Assert.Throws<ArgumentOutOfRangeException>(() => Benchmarks.MemoryCopyBandwidth(0, TimeSpan.Zero));
    }

    [Fact]
    public void StepSuite_TrainsTheSameModelWithEachNormImplementation()
    {
        var (cases, comparisons) = Benchmarks.Step(new StepShape(Width: 32, Depth: 1, Heads: 2, Context: 8, Batch: 2, GruHidden: 16, GruContext: 4, GruBatch: 2), TimeSpan.Zero);
        string[] arms = ["libtorch LayerNorm (layer_norm)", "fused LayerNorm", "fused RMSNorm", "RMSNorm from torch ops"];
        Assert.Equal([.. arms, .. arms], cases.Select(c => c.Name));
        Assert.All(cases, c => Assert.Equal(2 * Benchmarks.Blocks, c.Timing.Runs));
        Assert.Equal(["fused RMSNorm", "fused RMSNorm"], comparisons.Select(c => c.Case));
        Assert.Contains("d=32, L=1", cases[0].Shape);
        Assert.Contains("GRU H=16", cases[4].Shape);
    }

    [Fact]
    public void ModelConfigs_PassTheNormImplementationToEveryNorm()
    {
        foreach (var implementation in new[] { NormImplementation.Fused, NormImplementation.Torch })
        {
            var transformer = new CharTransformer(new TransformerConfig(16, Width: 16, Depth: 2, Heads: 2, Context: 8, NormImplementation: implementation));
            var gru = new CharGru(new GruConfig(16, Width: 8, Hidden: 8, Norm: "rmsnorm", NormImplementation: implementation));
            Assert.All(transformer.modules().OfType<LayerNorm>().Select(n => n.Implementation).Concat(gru.modules().OfType<RmsNorm>().Select(n => n.Implementation)),
                n => Assert.Equal(implementation, n));
            Assert.Equal(4 + 1, transformer.modules().OfType<LayerNorm>().Count());
            Assert.Equal(4, gru.modules().OfType<RmsNorm>().Count());
        }
    }
}
