// SPDX-License-Identifier: MIT
using NormNotebooks.Reporting;

namespace NormNotebooks.Tests.Reporting;

public sealed class IntervalTests
{
    [Fact]
    public void TInterval_MatchesTheTextbook()
    {
        var interval = Interval.Of([1.0, 2.0, 3.0]);   // mean 2, sd 1, t(0.975, 2) = 4.302652729911275
        var half = 4.302652729911275 / Math.Sqrt(3);
        Assert.Equal(2.0, interval.Estimate, 12);
        Assert.Equal(2.0 - half, interval.Lower!.Value, 9);
        Assert.Equal(2.0 + half, interval.Upper!.Value, 9);
        Assert.Equal(3, interval.N);
    }

    [Fact]
    public void RatioInterval_IsGeometric_AndSymmetricOnTheLogScale()
    {
        var interval = Interval.Of([2.0, 8.0], ratio: true);
        Assert.Equal(4.0, interval.Estimate, 12);
        Assert.Equal(1.0, interval.Lower!.Value * interval.Upper!.Value / 16, 9);   // lower·upper = estimate²
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
