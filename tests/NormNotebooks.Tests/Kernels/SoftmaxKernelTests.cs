// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Kernels;

public sealed class SoftmaxKernelTests
{
    public static TheoryData<SoftmaxAlgorithm> Algorithms => new(Enum.GetValues<SoftmaxAlgorithm>());

    private static void AgreesWithTorch(Tensor x, SoftmaxAlgorithm algorithm, string what)
    {
        using var scope = NewDisposeScope();
        var reference = x.to(float64).softmax(-1);
        var ours = FusedSoftmax.Softmax(x, algorithm).to(float64);
        // within 1e-6 relative to each entry, plus an absolute floor far below float32's resolution of the row's largest probability
        var tolerance = reference.abs() * 1e-6 + 1e-12;
        var worst = ((ours - reference).abs() / tolerance).max().ToDouble();
        Assert.True(worst <= 1, $"{algorithm}, {what}: worst error {worst:F2}× the tolerance");
        Assert.True((ours.sum(-1) - 1).abs().max().ToDouble() < 1e-5, $"{algorithm}, {what}: rows do not sum to 1");
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void MatchesTorchSoftmax_OnOrdinaryRows_WithTails(SoftmaxAlgorithm algorithm)
    {
        foreach (var n in new long[] { 1, 7, 9, 33, 1000 })
            AgreesWithTorch(randn(5, n, generator: new Generator((ulong)n)) * 4, algorithm, $"n = {n}");
    }

    [Theory]
    [MemberData(nameof(Algorithms))]
    public void HandlesOverflowUnderflowInfinityAndEqualRows(SoftmaxAlgorithm algorithm)
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
    }

    [Fact]
    public void TheThreeAlgorithms_AgreeWithEachOther_Within1e6()
    {
        using var scope = NewDisposeScope();
        var x = randn(8, 4099, generator: new Generator(5)) * 10;
        var outputs = Enum.GetValues<SoftmaxAlgorithm>().Select(a => FusedSoftmax.Softmax(x, a)).ToList();
        foreach (var other in outputs.Skip(1))
            Assert.True(((other - outputs[0]).abs() / (outputs[0].abs() * 2e-6f + 1e-12f)).max().ToDouble() <= 1);   // each within 1e-6 of torch
        Assert.Throws<ArgumentException>(() => FusedSoftmax.Softmax(x.t()));
    }
}
