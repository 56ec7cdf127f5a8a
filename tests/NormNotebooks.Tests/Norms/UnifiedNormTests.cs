// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
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
}
