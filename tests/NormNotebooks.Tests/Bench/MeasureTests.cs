// SPDX-License-Identifier: MIT
using NormNotebooks.Bench;

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
