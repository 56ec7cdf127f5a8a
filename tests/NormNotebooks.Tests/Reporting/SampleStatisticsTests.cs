// SPDX-License-Identifier: MIT
using NormNotebooks.Reporting;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.ReferenceStatistics;

namespace NormNotebooks.Tests.Reporting;

public sealed class SampleStatisticsTests
{
    private static void AssertRelative(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= Tolerances.SummaryStatistic * Math.Abs(expected),
            $"{what}: expected {expected:R}, got {actual:R}, relative |Δ| {Math.Abs(actual - expected) / Math.Abs(expected):E2}");

    [Fact]
    public void StandardDeviation_OfAHandComputedSample_DividesByNMinus1()
    {
        double[] values = [2, 4, 4, 4, 5, 5, 7, 9];   // mean 5, Σ(x − 5)² = 32
        AssertRelative(Math.Sqrt(32.0 / 7), SampleStatistics.StandardDeviation(values, values.Average()), "sd");
        Assert.True(double.IsNaN(SampleStatistics.StandardDeviation([3.0], 3.0)), "one value has no sample standard deviation");
    }

    [Theory]
    [InlineData(10, 1.0)]
    [InlineData(1000, 1.0)]
    [InlineData(10, 1e-6)]     // seeds' losses that agree to six digits
    [InlineData(1000, 1e-9)]   // a bootstrap of a well-determined parameter
    public void StandardDeviation_IsExactToAFewUlps_HoweverSmallTheSpreadAgainstTheMean(int count, double spread)
    {
        // MathNet's one-pass variance on the raw values misses by about (|mean| / sd)·ε: 9e-11 relative at spread 1e-6. (So does
        // the two-pass formula the library used before, at spread 1e-9: the rounding δ of the mean adds nδ² to its sum of squares.)
        var random = new Random(count);
        var values = Enumerable.Range(0, count).Select(_ => 2.3 * (1 + spread * random.NextDouble())).ToArray();
        AssertRelative(ExactStandardDeviation(values), SampleStatistics.StandardDeviation(values, values.Average()), "MathNet on centred values");
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1e-3)]
    [InlineData(1e-6)]
    public void StandardDeviation_Equals_TheTwoPassFormulaItReplaced(double spread)
    {
        var random = new Random(3);
        foreach (var count in new[] { 2, 3, 10, 100, 1000 })
        {
            var values = Enumerable.Range(0, count).Select(_ => 2.3 * (1 + spread * random.NextDouble())).ToArray();
            AssertRelative(TwoPassStandardDeviation(values), SampleStatistics.StandardDeviation(values, values.Average()), $"n = {count}");
        }
    }
}
