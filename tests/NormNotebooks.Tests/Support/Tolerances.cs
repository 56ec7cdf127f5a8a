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

    /// <summary>float32 machine epsilon, 2⁻²³: the gap between 1 and the next float32 (twice the unit roundoff of round-to-nearest).</summary>
    public const double Float32Epsilon = 1.0 / (1 << 23);

    /// <summary>
    /// Relative error bound of a float32 sum of <paramref name="terms"/> values, n·2⁻²³: recursive summation errs by at most
    /// (n − 1)·u·Σ|xᵢ| with u = 2⁻²⁴ (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., §4.2); n·2⁻²³ = 2n·u also
    /// covers rounding the n inputs to float32. Used for float32 results compared with float64 ones where a reduction of n values dominates.
    /// </summary>
    public static double Float32Sum(long terms) => terms * Float32Epsilon;

    /// <summary>float64 machine epsilon, 2⁻⁵².</summary>
    public const double Float64Epsilon = 1.0 / (1L << 52);

    /// <summary>
    /// <see cref="Float32Sum"/> for float64, n·2⁻⁵²: the rounding bound of a float64 sum of <paramref name="terms"/> values relative to
    /// Σ|xᵢ|. Used where two float64 computations of the same quantity (ours and a reference written from the equation) differ only in
    /// the order of their operations, n being the longest reduction involved.
    /// </summary>
    public static double Float64Sum(long terms) => terms * Float64Epsilon;

    /// <summary>
    /// Absolute error allowed for a float64 scalar of order 1 computed from a closed form by a few operations (a learning-rate
    /// schedule, a probability, a square root): each operation rounds by at most 2⁻⁵³ ≈ 1.1e-16 of its result, so 1e-12 allows ten
    /// thousand such roundings, and a wrong formula is off by far more.
    /// </summary>
    public const double ClosedForm = 1e-12;

    /// <summary><see cref="ClosedForm"/> as xUnit's decimal places: values agree when rounded to 12 decimals.</summary>
    public const int ClosedFormDecimals = 12;

    /// <summary>
    /// Half-width, in standard errors, of the bars on seeded sample statistics (a mean, a variance or a fraction of many draws): a correct
    /// sampler lands outside ±5 standard errors with probability 5.7e-7 (two-sided normal), so the bar fails only for a wrong
    /// distribution, never for an unlucky seed.
    /// </summary>
    public const double StandardErrors = 5;

    /// <summary>The same deterministic computation repeated, or state that must not move: no difference at all.</summary>
    public const double Exact = 0;

    /// <summary>
    /// Relative gap allowed between one sample statistic summed in two orders (a two-pass standard deviation against MathNet's
    /// one-pass one on centred values; a percentile at (n − 1)τ against one at (n − 1)τ + 1): both are within a few ε of the
    /// exact value (a comparison of the two over random samples of 1 to 1,000 values found them 4e-14 apart at most), and 1e-12 is the bound the library review set for
    /// replacing hand-written statistics with MathNet's.
    /// </summary>
    public const double SummaryStatistic = 1e-12;

    /// <summary>
    /// Student-t quantiles from MathNet 5.0's StudentT.InvCDF against exact ones: it finds the root of the CDF (a regularized
    /// incomplete beta) by Brent's method with accuracy 1e-12 (Distributions/StudentT.cs at v5.0.0).
    /// </summary>
    public const double StudentTQuantile = 1e-12;

    /// <summary>
    /// Asserts max |actual − expected| ≤ bound·max |expected|: the normwise form of a rounding bound, for results whose errors scale with
    /// the largest values of the computation rather than with each element (an element near zero after cancellation keeps the error of
    /// its terms).
    /// </summary>
    public static void AssertCloseNormwise(Tensor expected, Tensor actual, double bound, string what = "values")
    {
        using var scope = NewDisposeScope();
        AssertClose(expected, actual, bound * expected.abs().max().to(float64).item<double>(), 0, what);
    }

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
