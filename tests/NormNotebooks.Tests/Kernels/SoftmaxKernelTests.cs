// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Kernels;

public sealed class SoftmaxKernelTests
{
    public static TheoryData<SoftmaxAlgorithm, bool> Algorithms
    {
        get
        {
            var data = new TheoryData<SoftmaxAlgorithm, bool>();
            foreach (var algorithm in Enum.GetValues<SoftmaxAlgorithm>())
                foreach (var wide in new[] { true, false })
                    data.Add(algorithm, wide);
            return data;
        }
    }

    /// <summary>Each float32 probability against float64 softmax, relative: measured at most 5.5e-7 (n = 1000), 4.6 float32 ulps
    /// (2⁻²³); the bar is 8.4 ulps.</summary>
    private const double EntryRelative = 1e-6;

    /// <summary>The absolute floor for entries that underflow, about 2⁻⁴⁰: below anything a float32 row can register beside its largest
    /// probability (≥ 1/n, whose ulp is at least 2⁻²³/1000 ≈ 1.2e-10 here).</summary>
    private const double EntryFloor = 1e-12;

    private static void AgreesWithTorch(Tensor x, SoftmaxAlgorithm algorithm, string what, double relative = EntryRelative)
    {
        using var scope = NewDisposeScope();
        var reference = x.to(float64).softmax(-1);
        var ours = FusedSoftmax.Softmax(x, algorithm).to(float64);
        var tolerance = reference.abs() * relative + EntryFloor;
        var worst = ((ours - reference).abs() / tolerance).max().ToDouble();
        Assert.True(worst <= 1, $"{algorithm}, {what}: worst error {worst:F2}× the tolerance");
        // Summed in float64: the entries' bars add up to EntryRelative·Σp + n·EntryFloor, and the reference row sums to 1 within Float64Sum(n).
        var n = x.shape[^1];
        Assert.True((ours.sum(-1) - 1).abs().max().ToDouble() <= relative + n * EntryFloor + Tolerances.Float64Sum(n), $"{algorithm}, {what}: rows do not sum to 1");
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void MatchesTorchSoftmax_OnOrdinaryRows_WithTails(SoftmaxAlgorithm algorithm, bool wide) => KernelWidths.At(wide, () =>
    {
        foreach (var n in new long[] { 1, 7, 9, 33, 100, 1000 })
            AgreesWithTorch(randn(5, n, generator: new Generator((ulong)n)) * 4, algorithm, $"n = {n}");
    });

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void HandlesOverflowUnderflowInfinityAndEqualRows(SoftmaxAlgorithm algorithm, bool wide) => KernelWidths.At(wide, () =>
    {
        AgreesWithTorch(randn(3, 40, generator: new Generator(1)) * 30 + 1e4f, algorithm, "values near 1e4 (exp overflows without care)");
        AgreesWithTorch(randn(3, 40, generator: new Generator(2)) * 30 - 1e4f, algorithm, "values near −1e4 (exp underflows)");
        AgreesWithTorch(randn(3, 40, generator: new Generator(3)) * 100, algorithm, "spread ±300: most entries underflow to 0");
        AgreesWithTorch(full(4, 17, 3.25f), algorithm, "all-equal rows");
        var masked = randn(4, 19, generator: new Generator(4));
        masked[.., 3] = float.NegativeInfinity;
        masked[.., 11] = float.NegativeInfinity;
        masked[2, ..10] = float.NegativeInfinity;
        AgreesWithTorch(masked, algorithm, "−∞ entries (a causal mask)");
        var wideMasked = randn(3, 160, generator: new Generator(6)) * 20;    // −∞ and huge values inside the 4-register loops too
        wideMasked[.., 5] = float.NegativeInfinity;
        wideMasked[1, 70..] = float.NegativeInfinity;
        wideMasked[2, 100] = 9e3f;
        AgreesWithTorch(wideMasked, algorithm, "−∞ and huge entries across whole registers");
    });

    [Theory]
    [InlineData(SoftmaxAlgorithm.TwoPass)]
    [InlineData(SoftmaxAlgorithm.ThreePassRecompute)]
    [InlineData(SoftmaxAlgorithm.ThreePassReload)]
    public void LargeOutputs_StoredNonTemporally_MatchTorch(SoftmaxAlgorithm algorithm) =>
        // Rows of 2²¹ terms: the float32 sum's worst-case error bound, with the 16 partial sums of the narrowest kernel, joins the bar.
        AgreesWithTorch(randn(2, 1L << 21, generator: new Generator(8)) * 5, algorithm, "2 rows of 2²¹ (16 MiB)", EntryRelative + Tolerances.Float32Sum((1L << 21) / 16));

    [Fact]
    public void TheThreeAlgorithms_AgreeWithEachOther_Within1e6()
    {
        using var scope = NewDisposeScope();
        var x = randn(8, 4099, generator: new Generator(5)) * 10;
        var outputs = Enum.GetValues<SoftmaxAlgorithm>().Select(a => FusedSoftmax.Softmax(x, a)).ToList();
        foreach (var other in outputs.Skip(1))
            Assert.True(((other - outputs[0]).abs() / (outputs[0].abs() * (float)(2 * EntryRelative) + (float)(2 * EntryFloor))).max().ToDouble() <= 1);   // each within the bar of torch
        Assert.Throws<ArgumentException>(() => FusedSoftmax.Softmax(x.t()));
    }
}
