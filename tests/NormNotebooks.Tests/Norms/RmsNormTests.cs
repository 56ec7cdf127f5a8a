// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class RmsNormTests
{
    private static Tensor Reference(Tensor x, double eps) => x / (x.square().mean([-1L], keepdim: true) + eps).sqrt();

    [Theory]
    [MemberData(nameof(Inputs.DevicesAndTypes), MemberType = typeof(Inputs))]
    public void Forward_MatchesEquation4(string deviceName, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var device = new Device(deviceName);
        var norm = new RmsNorm(37, device: device, dtype: dtype);
        using (no_grad())
            norm.Weight!.copy_(Inputs.Random([37], dtype, seed: 2, device: device));
        var x = Inputs.Random([5, 3, 37], dtype, device: device);
        var expected = Reference(x.to(float64), 1e-8) * norm.Weight!.detach().to(float64);
        Tolerances.AssertClose(expected, norm.forward(x), dtype == ScalarType.Float64 ? Tolerances.Float64 : Tolerances.Float32);
    }

    [Fact]
    public void Output_IsInvariantToRescaling_ButNotToRecentring()
    {
        using var scope = NewDisposeScope();
        var norm = new RmsNorm(33, eps: 0, dtype: ScalarType.Float64);
        var x = Inputs.Random([6, 33], ScalarType.Float64);
        Tolerances.AssertClose(norm.forward(x), norm.forward(x * 7.5), Tolerances.Float64, what: "re-scaling");
        var moved = (norm.forward(x) - norm.forward(x + 2.0)).abs().max().item<double>();
        const double recentringEffect = 1e-3;   // measured: re-centring by 2 moves the output by up to 1.0
        Assert.True(moved > recentringEffect, $"re-centring moved the output by only {moved}");
    }

    [Fact]
    public void OnACentredInput_EqualsLayerNorm()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([6, 33], ScalarType.Float64);
        var centred = x - x.mean([-1L], keepdim: true);
        var rms = new RmsNorm(33, eps: 1e-5, affine: false, dtype: ScalarType.Float64).forward(centred);
        var ln = new LayerNorm(33, eps: 1e-5, affine: false, dtype: ScalarType.Float64).forward(x);
        Tolerances.AssertClose(ln, rms, Tolerances.Float64);
    }

    [Fact]
    public void Gradient_PassesFiniteDifferenceCheck() =>
        GradCheck.Input(new RmsNorm(7, dtype: ScalarType.Float64).forward, Inputs.Random([3, 7], ScalarType.Float64));

    [Fact]
    public void Partial_WithTheWholeVector_IsRmsNorm()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([4, 24], ScalarType.Float64);
        Tolerances.AssertClose(new RmsNorm(24, dtype: ScalarType.Float64).forward(x),
            new PartialRmsNorm(24, partialFraction: 1.0, dtype: ScalarType.Float64).forward(x), Tolerances.Float64);
    }

    [Fact]
    public void Partial_EstimatesTheRmsFromTheFirstKFeaturesOnly()
    {
        using var scope = NewDisposeScope();
        var norm = new PartialRmsNorm(128, dtype: ScalarType.Float64);
        Assert.Equal(8, norm.PartialFeatures);   // ⌊128 · 6.25%⌋, the paper's setting
        var x = Inputs.Random([3, 128], ScalarType.Float64);
        var changedTail = x.clone();
        changedTail[.., 8..] *= 10;
        var head = norm.forward(x)[.., ..8];
        Tolerances.AssertClose(head, norm.forward(changedTail)[.., ..8], Tolerances.Float64, what: "the tail must not move the estimate");
        // ε puts that RMS at √(m/(m + ε)), below 1 by at most ε/(2m) for the first k inputs' mean square m, plus the 8-term mean's rounding.
        var headMeanSquare = x[.., ..8].square().mean([-1L]).min().item<double>();
        Tolerances.AssertClose(ones(3, dtype: float64), head.square().mean([-1L]).sqrt(), norm.Eps / (2 * headMeanSquare) + Tolerances.Float64Sum(8), what: "RMS of the first k outputs");
        GradCheck.Input(new PartialRmsNorm(16, partialFraction: 0.25, dtype: ScalarType.Float64).forward, Inputs.Random([2, 16], ScalarType.Float64));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PartialRmsNorm(16, partialFraction: 0));
    }

    [Fact]
    public void Crms_OnTheCompressedVector_EqualsRmsAndLayerNormOnTheFullZeroMeanVector()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([5, 64], ScalarType.Float64);
        var z = x - x.mean([-1L], keepdim: true);   // zero-mean, width d = 64
        var compressed = z[.., ..63];
        var crms = new CrmsNorm(63, eps: 1e-5, dtype: ScalarType.Float64).forward(compressed);
        var rms = new RmsNorm(64, eps: 1e-5, affine: false, dtype: ScalarType.Float64).forward(z)[.., ..63];
        var ln = new LayerNorm(64, eps: 1e-5, affine: false, dtype: ScalarType.Float64).forward(x)[.., ..63];
        Tolerances.AssertClose(rms, crms, Tolerances.Float64, what: "CRMSNorm vs RMSNorm");
        Tolerances.AssertClose(ln, crms, Tolerances.Float64, what: "CRMSNorm vs LayerNorm");
        GradCheck.Input(new CrmsNorm(9, dtype: ScalarType.Float64).forward, Inputs.Random([2, 9], ScalarType.Float64));
    }
}
