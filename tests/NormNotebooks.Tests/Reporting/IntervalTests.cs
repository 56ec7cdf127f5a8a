// SPDX-License-Identifier: MIT
using MathNet.Numerics.Distributions;
using NormNotebooks.Reporting;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.ReferenceStatistics;

namespace NormNotebooks.Tests.Reporting;

public sealed class IntervalTests
{
    // t(0.975, ν), exact to 16 digits from closed forms by student_t_quantiles.py beside this file (tables: 4.303, 2.262).
    private const double T975Df2 = 4.302652729749464;
    private const double T975Df9 = 2.2621571627982055;

    [Theory]
    [InlineData(new[] { 1.0, 2, 3 }, 2.0, 1.0, T975Df2)]                                        // Σ(x − 2)² = 2 over n − 1 = 2
    [InlineData(new[] { 4.0, 9, 1, 7, 10, 2, 5, 8, 3, 6 }, 5.5, 3.0276503540974917, T975Df9)]   // √(82.5 / 9)
    public void TInterval_IsTheMeanPlusMinusTheExactTQuantileTimesTheStandardError(double[] samples, double mean, double sd, double t)
    {
        var interval = Interval.Of(samples);
        var n = samples.Length;
        Assert.Equal(mean, interval.Estimate);
        Assert.Equal(n, interval.N);
        var quantile = (interval.Upper!.Value - interval.Lower!.Value) / 2 * Math.Sqrt(n) / sd;
        Assert.True(Math.Abs(quantile - t) <= Tolerances.StudentTQuantile, $"t(0.975, {n - 1}): exact {t:R}, interval's {quantile:R}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TInterval_Equals_TheTwoPassFormulaItReplaced(bool ratio)
    {
        var random = new Random(ratio ? 2 : 1);
        foreach (var (count, spread) in new[] { (2, 0.5), (5, 0.05), (10, 1e-3), (30, 1e-6) })
        {
            var samples = Enumerable.Range(0, count).Select(_ => 1.7 * (1 + spread * random.NextDouble())).ToArray();
            var scaled = samples.Select(s => ratio ? Math.Log(s) : s).ToArray();
            var mean = scaled.Average();
            var half = StudentT.InvCDF(0, 1, count - 1, 0.975) * TwoPassStandardDeviation(scaled) / Math.Sqrt(count);
            var back = (double v) => ratio ? Math.Exp(v) : v;
            var interval = Interval.Of(samples, ratio);
            Assert.Equal(back(mean), interval.Estimate);
            foreach (var (expected, actual) in new[] { (back(mean - half), interval.Lower!.Value), (back(mean + half), interval.Upper!.Value) })
                Assert.True(Math.Abs(actual - expected) <= Tolerances.SummaryStatistic * Math.Abs(expected),
                    $"n = {count}, spread {spread}: expected {expected:R}, got {actual:R}");
        }
    }

    [Fact]
    public void RatioInterval_IsGeometric_AndSymmetricOnTheLogScale()
    {
        var interval = Interval.Of([2.0, 8.0], ratio: true);
        Assert.Equal(4.0, interval.Estimate, Tolerances.ClosedFormDecimals);
        Assert.Equal(1.0, interval.Lower!.Value * interval.Upper!.Value / 16, Tolerances.ClosedFormDecimals);   // lower·upper = exp(2·mean) = estimate²
        var single = Interval.Of([5.0]);
        Assert.Equal(5.0, single.Estimate);
        Assert.Null(single.Lower);
    }

    [Fact]
    public void BadSamples_AreNamed()
    {
        Assert.Throws<ArgumentException>(() => Interval.Of([]));
        Assert.Contains("ratios", Assert.Throws<ArgumentException>(() => Interval.Of([1.0, -1.0], ratio: true)).Message);
        Assert.Throws<ArgumentException>(() => Interval.Of([1.0, double.NaN]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Interval.Of([1.0, 2.0], confidence: 1));
    }
}
