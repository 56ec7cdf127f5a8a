// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

/// <summary>EvoNorm-B0/S0 and the self-normalising SELU family.</summary>
public sealed class NormActivationTests
{
    [Fact]
    public void EvoNormB0_IsPositivelyScaleInvariant_ForAnyV()
    {
        using var scope = NewDisposeScope();
        var norm = new EvoNormB0(4, eps: 0, dtype: ScalarType.Float64);
        using (no_grad())
            norm.V.copy_(Inputs.Random([1, 4, 1, 1], ScalarType.Float64, seed: 3));
        var x = Inputs.Random([3, 4, 5, 5], ScalarType.Float64);
        Tolerances.AssertCloseNormwise(norm.forward(x), norm.forward(x * 6.5), Tolerances.Float64Sum(3 * 5 * 5));   // the batch variance sums N·H·W = 75 values
    }

    [Fact]
    public void EvoNormB0_UpdatesTheBiasedMovingVariance_AndEvalUsesIt()
    {
        using var scope = NewDisposeScope();
        var norm = new EvoNormB0(3, dtype: ScalarType.Float64);
        var x = Inputs.Random([4, 3, 2, 2], ScalarType.Float64);
        norm.forward(x);
        var biased = x.var([0L, 2L, 3L], unbiased: false);
        Tolerances.AssertClose(0.9 + 0.1 * biased, norm.RunningVar.flatten(), Tolerances.Float64, what: "r ← r − (r − s²)·0.1 with the biased s²");
        norm.eval();
        var alone = norm.forward(x[..1]);
        Tolerances.AssertClose(alone, norm.forward(x)[..1], Tolerances.Float64, what: "eval is batch-independent");
        var instanceStd = (x[..1].var([2L, 3L], unbiased: false, keepdim: true) + 1e-5).sqrt();
        var expected = x[..1] / maximum((norm.RunningVar + 1e-5).sqrt(), x[..1] + instanceStd);
        Tolerances.AssertClose(expected, alone, Tolerances.Float64, what: "B0 formula with the moving variance");
    }

    [Fact]
    public void EvoNormS0_WithVZero_IsHalfTheGroupNormalisedInput_AndItsGroupStdMatchesGroupNorm()
    {
        using var scope = NewDisposeScope();
        var norm = new EvoNormS0(8, groups: 4, dtype: ScalarType.Float64);
        using (no_grad())
            norm.V.zero_();
        var x = Inputs.Random([2, 8, 3, 3], ScalarType.Float64);
        var grouped = x.reshape(2, 4, -1);
        var std = (grouped.var([-1L], unbiased: false, keepdim: true) + 1e-5).sqrt().expand(grouped.shape).reshape(x.shape);
        Tolerances.AssertClose(0.5 * x / std, norm.forward(x), Tolerances.Float64, what: "S0 with v = 0");
        var centred = ((grouped - grouped.mean([-1L], keepdim: true)).reshape(x.shape)) / std;
        Tolerances.AssertCloseNormwise(nn.functional.group_norm(x, 4, eps: 1e-5), centred, Tolerances.Float64Sum(2 * 3 * 3), what: "the group std is group_norm's");   // groups of 18 values
        Assert.Equal([32L, 24, 20, 24], new long[] { 64, 48, 40, 24 }.Select(EvoNormS0.OfficialGroups));
    }

    [Fact]
    public void Gradients_PassFiniteDifferenceChecks()
    {
        var b0 = new EvoNormB0(2, dtype: ScalarType.Float64);
        GradCheck.Input(b0.forward, Inputs.Random([3, 2, 2, 2], ScalarType.Float64));
        GradCheck.Input(new EvoNormS0(4, groups: 2, dtype: ScalarType.Float64).forward, Inputs.Random([2, 4, 2, 2], ScalarType.Float64));
    }

    [Fact]
    public void AlphaDropout_KeepsMeanZeroAndVarianceOne_AndIsIdentityInEval()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var dropout = new AlphaDropout(0.1);
        var x = randn(400_000, dtype: float64);
        var y = dropout.forward(x);
        // Seeded statistics of n draws, each within Tolerances.StandardErrors of its target: SE(mean) = s/√n, SE(variance) = √((m₄ − s⁴)/n)
        // from the sample's own fourth central moment, SE(fraction dropped) = √(p(1 − p)/n).
        var n = x.numel();
        var (mean, variance) = (y.mean().item<double>(), y.var().item<double>());
        var meanBar = Tolerances.StandardErrors * Math.Sqrt(variance / n);
        Assert.InRange(mean, -meanBar, meanBar);
        var varianceBar = Tolerances.StandardErrors * Math.Sqrt(((y - mean).pow(4).mean().item<double>() - variance * variance) / n);
        Assert.InRange(variance, 1 - varianceBar, 1 + varianceBar);
        var (a, b) = SelfNormalizing.AlphaDropoutAffine(0.9);
        var dropped = y.eq(SelfNormalizing.AlphaPrime * a + b).to(float64).mean().item<double>();   // the layer's own two roundings: exact
        var droppedBar = Tolerances.StandardErrors * Math.Sqrt(0.1 * 0.9 / n);
        Assert.InRange(dropped, 0.1 - droppedBar, 0.1 + droppedBar);
        dropout.eval();
        Assert.True(dropout.forward(x).allclose(x, rtol: 0, atol: 0));
    }

    [Fact]
    public void Selu_WithLecunNormalWeights_KeepsActivationsNearMeanZeroVarianceOne()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var h = randn(4096, 256, dtype: float64);
        for (var layer = 0; layer < 16; layer++)
        {
            var weight = SelfNormalizing.LecunNormal(empty(256, 256, dtype: float64));
            h = SelfNormalizing.Selu(h.matmul(weight.t()));
        }
        // The paper's Theorem 1 maps mean μ ∈ [−0.1, 0.1] and variance ν ∈ [0.8, 1.5] into themselves around (0, 1): the mean bar is its
        // interval. Measured with seed 3 after 16 layers: mean 0.0044, variance 1.014; the variance bar, ±0.15, is ten times that deviation.
        const double meanBar = 0.1, varianceBar = 0.15;
        Assert.InRange(h.mean().item<double>(), -meanBar, meanBar);
        Assert.InRange(h.var().item<double>(), 1 - varianceBar, 1 + varianceBar);
        Assert.Equal(-1.7580993408473766, SelfNormalizing.AlphaPrime);   // −λα rounded once to the nearest double
    }
}
