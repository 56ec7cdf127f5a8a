// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class UnifiedNormTests
{
    private const double Eps = 1e-5;

    private static Tensor[] Batches(int count, long features = 4) =>
        Enumerable.Range(0, count).Select(i => Inputs.Random([6, features], ScalarType.Float64, seed: 60 + i, mean: 0.5 * i, scale: 1 + 0.3 * i)).ToArray();

    [Fact]
    public void Window_SlotsByIterationModM_AndSmoothsWithTheGeometricMeanAfterWarmup()
    {
        using var scope = NewDisposeScope();
        var norm = new UnifiedNorm(4, windowSize: 3, warmupIterations: 2, dtype: ScalarType.Float64);
        var batches = Batches(5);
        var q = batches.Select(b => b.square().mean([0L])).ToArray();
        for (var t = 1; t <= 3; t++)
        {
            var output = norm.forward(batches[t - 1]);
            Tolerances.AssertClose(q[t - 1], norm.WindowX2[t % 3], Tolerances.Float64, what: $"slot {t % 3} after step {t}");
            Tolerances.AssertClose(batches[t - 1] / (q[t - 1] + Eps).sqrt(), output, Tolerances.Float64, what: $"step {t} uses q_t (t ≤ M)");
        }
        // t = 4 > M = 3 and ≥ W: q4 replaced q1 in slot 1, so the window holds {q3, q4, q2}; t = 5 then holds {q3, q4, q5}.
        var fourth = norm.forward(batches[3]);
        var geometric4 = (q[1].log() + q[2].log() + q[3].log()).div(3).exp();
        Tolerances.AssertClose(batches[3] / (geometric4 + Eps).sqrt(), fourth, Tolerances.Float64, what: "step 4 uses the window's geometric mean");
        var fifth = norm.forward(batches[4]);
        var geometric5 = (q[2].log() + q[3].log() + q[4].log()).div(3).exp();
        Tolerances.AssertClose(batches[4] / (geometric5 + Eps).sqrt(), fifth, Tolerances.Float64, what: "step 5 slides the window");
    }

    [Fact]
    public void RunningVariance_TracksTheStatisticUsed_AndEvalIsTheFoldedAffine()
    {
        using var scope = NewDisposeScope();
        var norm = new UnifiedNorm(4, windowSize: 1, warmupIterations: 0, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.Weight.copy_(Inputs.Random([4], ScalarType.Float64, seed: 2));
            norm.Bias.copy_(Inputs.Random([4], ScalarType.Float64, seed: 3));
        }
        var running = ones(4, dtype: float64);
        foreach (var batch in Batches(3))
        {
            norm.forward(batch);
            running = 0.9 * running + 0.1 * batch.square().mean([0L]);
        }
        Tolerances.AssertClose(running, norm.RunningVar, Tolerances.Float64, what: "r ← 0.9 r + 0.1 s");
        norm.eval();
        var x = Inputs.Random([2, 3, 4], ScalarType.Float64, seed: 9);
        // x/√(r + ε)·γ + β against x·(γ/√(r + ε)) + β: the same three factors in another order, no reduction.
        Tolerances.AssertCloseNormwise(x * norm.FoldedScale() + norm.Bias.detach(), norm.forward(x), Tolerances.Float64Sum(3), what: "eval = folded affine");

        // Folding into the next linear layer: W·UN(x) + b == W′x + b′.
        var weight = Inputs.Random([5, 4], ScalarType.Float64, seed: 11);
        var bias = Inputs.Random([5], ScalarType.Float64, seed: 12);
        var (foldedWeight, foldedBias) = Reparameterize.FoldIntoLinear(norm.FoldedScale(), norm.Bias.detach(), weight, bias);
        Tolerances.AssertCloseNormwise(nn.functional.linear(norm.forward(x), weight, bias), nn.functional.linear(x, foldedWeight, foldedBias), Tolerances.Float64Sum(3 + 4),
            what: "fused == unfused");   // and the linear layer's sum over d = 4
    }

    [Fact]
    public void WithWindowOne_TheBackwardIsThePowerNormRuleWithTheCurrentCorrelation()
    {
        using var scope = NewDisposeScope();
        var norm = new UnifiedNorm(3, windowSize: 1, warmupIterations: 0, dtype: ScalarType.Float64);
        var x = Inputs.Random([8, 3], ScalarType.Float64).requires_grad_();
        var upstream = Inputs.Random([8, 3], ScalarType.Float64, seed: 5);
        norm.forward(x).backward([upstream]);

        var q = x.detach().square().mean([0L]);
        var z = x.detach() / (q + Eps).sqrt();
        var lambda = (upstream * z).mean([0L]);                      // γ = 1, ρ = 1 (skip), λ̄ = λ_t
        Tolerances.AssertClose((upstream - lambda * z) / (q + Eps).sqrt(), x.grad!, Tolerances.Float64, what: "∂L/∂x");
        Tolerances.AssertClose(0.1 * lambda, norm.EmaGz, Tolerances.Float64, what: "ema ← 0.9·0 + 0.1·λ̄");
        Tolerances.AssertClose((upstream * z).sum([0L]), norm.Weight.grad!, Tolerances.Float64, what: "∂L/∂γ");
    }

    [Fact]
    public void OutlierFiltration_SkipsASpikedBatch_AndNeverAStationaryStream()
    {
        using var scope = NewDisposeScope();
        var norm = new UnifiedNorm(4, windowSize: 4, warmupIterations: 4, outlierFiltration: true, dtype: ScalarType.Float64);
        for (var t = 0; t < 12; t++)
            norm.forward(Inputs.Random([64, 4], ScalarType.Float64, seed: 100 + t, mean: 0, scale: 1));
        Assert.Equal(0, norm.Skipped);
        norm.forward(Inputs.Random([64, 4], ScalarType.Float64, seed: 200, mean: 0, scale: 30));
        Assert.Equal(1, norm.Skipped);
    }

    [Fact]
    public void UnifiedFunction_LeavesNoTensorsNodesOrHeapBehind()
    {
        // Warm-up 0 and filtration on: after the first M steps every pass smooths over the window and tests for outliers.
        var norm = new UnifiedNorm(511, warmupIterations: 0, outlierFiltration: true);
        LeakCheck.AssertNoLeaks("UnifiedFunction", () => norm.forward(randn(256, 511).requires_grad_()));
    }

    // The closed-form inputs and upstream gradients of Fixtures/unified_norm.py, [B = 3, N = 5, C = 8].
    private static (Tensor X, Tensor G) TraceInputs(int t)
    {
        var b = arange(3, dtype: ScalarType.Float64).view(3, 1, 1);
        var n = arange(5, dtype: ScalarType.Float64).view(1, 5, 1);
        var c = arange(8, dtype: ScalarType.Float64).view(1, 1, 8);
        var x = (1 + 0.5 * sin(0.7 * t + c)) * sin(1.3 * b + 2.1 * n + 0.9 * c + 0.37 * t) + 0.1 * c;
        var g = cos(0.8 * b - 1.1 * n + 0.5 * c + 0.23 * t);
        return (x, g);
    }

    /// <summary>Replays the official UN1d's trace (PyTorch 1.13, float64): outputs, input and γ gradients, and the final buffers agree
    /// to float64 rounding, through warm-up, window smoothing, the ρ gate at step 1,000 and, with filtration on, a skipped spike.</summary>
    [Theory]
    [InlineData("plain", false, 1006, 0)]
    [InlineData("filtered", true, 12, 9)]
    public void ReplaysTheOfficialImplementationsTrace(string run, bool filtration, int steps, int spikeStep)
    {
        using var scope = NewDisposeScope();
        var trace = PyTorchUnpickler.UnpickleStateDict(Path.Combine(AppContext.BaseDirectory, "Norms", "Fixtures", "unified_norm_trace.pt"));
        var norm = new UnifiedNorm(8, windowSize: 4, warmupIterations: 3, outlierFiltration: filtration, eps: 1e-5, momentum: 0.9, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.Weight.copy_(1 + 0.1 * arange(8, dtype: ScalarType.Float64));
            norm.Bias.copy_(0.05 * arange(8, dtype: ScalarType.Float64));
        }
        norm.train();
        var compared = 0;
        for (var t = 1; t <= steps; t++)
        {
            using var step = NewDisposeScope();
            var (x, g) = TraceInputs(t);
            if (t == spikeStep)
                x = x * 30;
            x.requires_grad_(true);
            norm.Weight.grad?.zero_();
            var y = norm.forward(x);
            (y * g).sum().backward();
            if (!trace.Contains($"{run}_y_{t}"))
                continue;
            Tolerances.AssertClose((Tensor)trace[$"{run}_y_{t}"]!, y, 1e-12, 1e-12, what: $"{run} output, step {t}");
            Tolerances.AssertClose((Tensor)trace[$"{run}_dx_{t}"]!, x.grad!, 1e-12, 1e-12, what: $"{run} input gradient, step {t}");
            Tolerances.AssertClose((Tensor)trace[$"{run}_dweight_{t}"]!, norm.Weight.grad!, 1e-11, 1e-12, what: $"{run} γ gradient, step {t}");
            compared++;
        }
        Assert.True(compared >= 12, $"only {compared} recorded steps compared");
        foreach (var (key, actual) in new[] { ("running_var", norm.RunningVar), ("ema_gz", norm.EmaGz), ("buffer_x2", norm.WindowX2) })
            Tolerances.AssertClose(((Tensor)trace[$"{run}_{key}"]!).reshape(actual.shape), actual, 1e-12, 1e-12, what: $"{run} {key} after step {steps}");
        Assert.Equal(((Tensor)trace[$"{run}_skip_counter"]!).item<long>(), norm.Skipped);
    }
}
