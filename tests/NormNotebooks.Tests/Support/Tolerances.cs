// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Support;

/// <summary>Named tolerances and a max-|Δ| assertion that reports where the difference is.</summary>
internal static class Tolerances
{
    /// <summary>float32 results against a float64 or libtorch reference: a few ulps at unit scale (PyTorch's assert_close default for float32 is 1e-5 / 1.3e-6).</summary>
    public const double Float32 = 1e-5;

    /// <summary>float64 results against a float64 reference written from the equation.</summary>
    public const double Float64 = 1e-10;

    /// <summary>Asserts max |actual − expected| ≤ atol + rtol·|expected|, printing the worst element and its index.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double atol, double rtol = 0, string what = "values")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var e = expected.to(float64).cpu().flatten();
        var a = actual.to(float64).cpu().flatten();
        var excess = (a - e).abs() - (e.abs() * rtol + atol);
        var worst = excess.argmax().item<long>();
        var diff = Math.Abs(a[worst].item<double>() - e[worst].item<double>());
        Assert.True(excess[worst].item<double>() <= 0,
            $"{what}: worst |Δ| = {diff:E3} at flat index {worst} (expected {e[worst].item<double>():G9}, got {a[worst].item<double>():G9}); allowed {atol:E1} + {rtol:E1}·|expected|");
    }
}
