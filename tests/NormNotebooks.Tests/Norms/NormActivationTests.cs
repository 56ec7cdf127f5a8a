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
    public void EvoNormB0_RecordsWhichBranchOfTheMaxWon_OnlyWhenAsked()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        var norm = new EvoNormB0(3, dtype: ScalarType.Float64);
        var x = randn(4, 3, 5, 5, dtype: float64);
        norm.forward(x);
        Assert.Null(norm.LastInstanceBranchFraction);
        norm.RecordBranches = true;
        norm.eval();
        using (no_grad())
            norm.V.fill_(0.7);
        norm.forward(x);
        var instance = norm.V.view(1, -1, 1, 1) * x + (x.var([2L, 3L], unbiased: false, keepdim: true) + norm.Eps).sqrt();
        var batch = (norm.RunningVar.view(1, -1, 1, 1) + norm.Eps).sqrt();
        Assert.Equal(instance.gt(batch).to(float64).mean().item<double>(), norm.LastInstanceBranchFraction!.Value, 15);
        Assert.InRange(norm.LastInstanceBranchFraction!.Value, 0.01, 0.99);   // v = 0.7 on N(0, 1) input: both branches win somewhere
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

    /// <summary>E[f(z)] for z ~ N(m, s²) by Simpson's rule on [m − 40s, 0] and [0, m + 40s] (SELU's kink at 0 is a node), 200,000
    /// intervals each: the integrand is smooth on each piece and its tails beyond 40s are below e⁻⁸⁰⁰, so the rule's error, O(h⁴), is
    /// below 1e-13 — an independent check of the closed form.</summary>
    private static double Expect(Func<double, double> f, double m, double s)
    {
        double Density(double z) => Math.Exp(-(z - m) * (z - m) / (2 * s * s)) / (s * Math.Sqrt(2 * Math.PI));
        double Simpson(double lo, double hi)
        {
            const int n = 200_000;
            var h = (hi - lo) / n;
            var sum = f(lo) * Density(lo) + f(hi) * Density(hi);
            for (var i = 1; i < n; i++)
            {
                var z = lo + i * h;
                sum += (i % 2 == 1 ? 4 : 2) * f(z) * Density(z);
            }
            return sum * h / 3;
        }
        return Simpson(Math.Min(m - 40 * s, -1), 0) + Simpson(0, Math.Max(m + 40 * s, 1));
    }

    private static double SeluScalar(double z) => z > 0 ? SelfNormalizing.Lambda * z : SelfNormalizing.Lambda * SelfNormalizing.Alpha * (Math.Exp(z) - 1);

    [Theory]
    [InlineData(0.0, 0.0, 1.0, 1.0)]
    [InlineData(0.3, 0.5, 1.5, 1.2)]
    [InlineData(-0.2, 1.0, 0.5, 0.8)]
    [InlineData(1.0, 2.0, 3.0, 1.0)]
    public void MomentMap_MatchesNumericalIntegration(double mu, double omega, double nu, double tau)
    {
        var (mean, variance) = SelfNormalizing.MomentMap(mu, omega, nu, tau);
        var (m, s) = (mu * omega, Math.Sqrt(nu * tau));
        var expectedMean = Expect(SeluScalar, m, s);
        var expectedVariance = Expect(z => SeluScalar(z) * SeluScalar(z), m, s) - expectedMean * expectedMean;
        Assert.Equal(expectedMean, mean, 1e-10);
        Assert.Equal(expectedVariance, variance, 1e-10);
    }

    [Fact]
    public void MomentMap_HasTheFixedPointZeroOne_WithThePapersJacobian()
    {
        // λ and α are the paper's to 30+ digits, so the fixed point holds to double rounding.
        var (mean, variance) = SelfNormalizing.MomentMap(0, 0, 1, 1);
        Assert.Equal(0, mean, 1e-14);
        Assert.Equal(1, variance, 1e-14);
        // §3: the Jacobian of g(μ, ν) at (0, 1) (ω = 0, τ = 1) has spectral norm 0.7877 < 1; ∂/∂μ vanishes because ω = 0.
        const double h = 1e-5;
        var up = SelfNormalizing.MomentMap(0, 0, 1 + h, 1);
        var down = SelfNormalizing.MomentMap(0, 0, 1 - h, 1);
        var (dMean, dVariance) = ((up.Mean - down.Mean) / (2 * h), (up.Variance - down.Variance) / (2 * h));
        Assert.Equal(0.7877, Math.Sqrt(dMean * dMean + dVariance * dVariance), 4);
        Assert.Equal(SelfNormalizing.MomentMap(5, 0, 1, 1), SelfNormalizing.MomentMap(-5, 0, 1, 1));
        var nu = 1.5;
        for (var i = 0; i < 60; i++)
            nu = SelfNormalizing.MomentMap(0, 0, nu, 1).Variance;
        Assert.Equal(1, nu, 1e-6);
        Assert.Throws<ArgumentOutOfRangeException>(() => SelfNormalizing.MomentMap(0, 0, 0, 1));
    }
}
