// SPDX-License-Identifier: MIT
using NormNotebooks.Bench;
using static NormNotebooks.Tests.Support.ReferenceStatistics;

namespace NormNotebooks.Tests.Bench;

/// <summary>The timing harness's bookkeeping (never its timings: speed targets live in benchmarks).</summary>
public sealed class MeasureTests
{
    [Fact]
    public void Interleaved_RunsEveryActionOncePerRound_InRotatingOrder_AfterTheWarmup()
    {
        var calls = new List<string>();
        var timings = Measure.Interleaved([("a", () => calls.Add("a")), ("b", () => calls.Add("b")), ("c", () => calls.Add("c"))], TimeSpan.Zero, warmup: 2, minRounds: 4);
        Assert.Equal(["a", "b", "c"], timings.Select(t => t.Name));
        Assert.All(timings, t => Assert.Equal(4, t.Runs));
        Assert.Equal("abc" + "abc" + "abc" + "bca" + "cab" + "abc", string.Concat(calls));   // 2 warm-up rounds, then each round starts one later
        Assert.All(timings, t => Assert.True(t.Q1Ms <= t.MedianMs && t.MedianMs <= t.Q3Ms));
        Assert.Throws<ArgumentException>(() => Measure.Interleaved([]));
    }

    [Fact]
    public void Run_KeepsGoingUntilTheMinimumRuns()
    {
        var count = 0;
        var timing = Measure.Run("count", () => count++, TimeSpan.Zero, warmup: 1, minRuns: 7);
        Assert.Equal(7, timing.Runs);
        Assert.Equal(8, count);
    }

    [Theory]
    [InlineData(new[] { 5.0, 1, 3, 10, 20, 30, 2 }, 5.0, 2.5, 15.0)]   // sorted 1 2 3 5 10 20 30: ranks 1.5, 3, 4.5 (0-based)
    [InlineData(new[] { 4.0, 1, 3, 2 }, 2.5, 1.75, 3.25)]              // numpy.percentile([1, 2, 3, 4], [50, 25, 75])
    [InlineData(new[] { 7.0 }, 7.0, 7.0, 7.0)]
    public void Summarise_GivesR7Quartiles_AndTheMeanOfTheMiddlePairForAnEvenCount(double[] rounds, double median, double q1, double q3)
    {
        var timing = Measure.Summarise("t", rounds);
        Assert.Equal((median, q1, q3), (timing.MedianMs, timing.Q1Ms, timing.Q3Ms));
        Assert.Equal(rounds, timing.RoundsMs);
        Assert.Equal(rounds.Length, timing.Runs);
    }

    [Fact]
    public void Summarise_Quartiles_AreBitForBitTheLinearInterpolationAtRankNMinus1TimesTau()
    {
        // The formula the harness used before MathNet: (n − 1)·τ is exact in binary for τ = ¼, ½, ¾, so MathNet's R-7 must
        // return the very same doubles, and no committed timing changes.
        var random = new Random(17);
        for (var trial = 0; trial < 200; trial++)
        {
            var rounds = Enumerable.Range(0, 1 + random.Next(300)).Select(_ => 0.3 + 5 * random.NextDouble()).ToArray();
            var sorted = rounds.Order().ToArray();
            var timing = Measure.Summarise("t", rounds);
            Assert.Equal(LinearAtRank(sorted, 0.5), timing.MedianMs);
            Assert.Equal(LinearAtRank(sorted, 0.25), timing.Q1Ms);
            Assert.Equal(LinearAtRank(sorted, 0.75), timing.Q3Ms);
        }
    }

    [Fact]
    public void FewerThanOneRun_IsRefused_BeforeAnythingRuns()
    {
        var calls = 0;
        Assert.Equal("minRuns", Assert.Throws<ArgumentOutOfRangeException>(() => Measure.Run("x", () => calls++, TimeSpan.FromSeconds(1), minRuns: 0)).ParamName);
        Assert.Equal("minRounds", Assert.Throws<ArgumentOutOfRangeException>(() => Measure.Interleaved([("x", () => calls++)], TimeSpan.FromSeconds(1), minRounds: 0)).ParamName);
        Assert.Equal(0, calls);
    }

    [Fact]
    public void BlockMedians_AreMediansOfConsecutiveRounds_InTheOrderTheyRan()
    {
        var timing = new Timing("t", 0, 0, 0, 7, [5, 1, 3, 10, 20, 30, 2]);
        Assert.Equal([3.0, 15.0], timing.BlockMedians(2));          // rounds 0–2: {5, 1, 3}; rounds 3–6: {10, 20, 30, 2}, median (10 + 20)/2
        Assert.Equal(timing.RoundsMs, timing.BlockMedians(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => timing.BlockMedians(8));
        var measured = Measure.Interleaved([("a", () => { }), ("b", () => { })], TimeSpan.Zero, warmup: 0, minRounds: 6);
        Assert.All(measured, t => Assert.Equal(6, t.RoundsMs.Count));
    }
}
