// SPDX-License-Identifier: MIT
using System.Diagnostics;
using MathNet.Numerics.Statistics;

namespace NormNotebooks.Bench;

/// <summary>A timing: the median and interquartile range of repeated runs (R-7 quantiles, linear between order statistics).</summary>
/// <param name="Name">What was timed.</param>
/// <param name="MedianMs">Median milliseconds per run.</param>
/// <param name="Q1Ms">First quartile.</param>
/// <param name="Q3Ms">Third quartile.</param>
/// <param name="Runs">Timed runs (after warm-up).</param>
/// <param name="RoundsMs">Every timed run in the order it ran (for interleaved timings, run i belongs to round i of every action).</param>
public sealed record Timing(string Name, double MedianMs, double Q1Ms, double Q3Ms, int Runs, IReadOnlyList<double> RoundsMs)
{
    /// <summary>How many times faster than <paramref name="baseline"/> (baseline median / this median).</summary>
    public double SpeedupOver(Timing baseline) => baseline.MedianMs / MedianMs;

    /// <summary>Medians of <paramref name="blocks"/> consecutive blocks of rounds: nearly independent samples of the time, paired
    /// block by block with another interleaved action's, from which an interval over blocks is computed (single rounds are
    /// autocorrelated: frequency and load drift slowly).</summary>
    public double[] BlockMedians(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        if (RoundsMs.Count < blocks)
            throw new ArgumentOutOfRangeException(nameof(blocks), blocks, $"Timing '{Name}' has {RoundsMs.Count} rounds, fewer than {blocks} blocks.");
        return Enumerable.Range(0, blocks).Select(b =>
        {
            var (from, to) = (b * RoundsMs.Count / blocks, (b + 1) * RoundsMs.Count / blocks);
            return Median(RoundsMs.Skip(from).Take(to - from));
        }).ToArray();
    }

    internal static double Median(IEnumerable<double> values) => Statistics.Median(values);
}

/// <summary>Repeats an action after a warm-up until a time budget is spent, and reports the median and quartiles.</summary>
public static class Measure
{
    /// <summary>Times <paramref name="action"/>: <paramref name="warmup"/> untimed runs, then runs until <paramref name="budget"/> has passed (at least <paramref name="minRuns"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minRuns"/> is below 1 (a timing needs a run).</exception>
    public static Timing Run(string name, Action action, TimeSpan? budget = null, int warmup = 3, int minRuns = 5)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentOutOfRangeException.ThrowIfLessThan(minRuns, 1);
        for (var i = 0; i < warmup; i++)
            action();
        var limit = budget ?? TimeSpan.FromSeconds(1);
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < minRuns || total.Elapsed < limit)
        {
            var clock = Stopwatch.StartNew();
            action();
            samples.Add(clock.Elapsed.TotalMilliseconds);
        }
        return Summarise(name, samples);
    }

    /// <summary>
    /// Times several actions side by side: after <paramref name="warmup"/> untimed rounds, one run of each in turn per round, until
    /// <paramref name="budget"/> has passed (at least <paramref name="minRounds"/> rounds). Slow drifts of the machine (frequency, other
    /// load) then hit every action alike, which matters when the differences sought are a few per cent. The order rotates from round
    /// to round (round r starts with action r mod n), so no action always runs right after the same neighbour (whose garbage,
    /// cache footprint or idle threads it would otherwise inherit every time).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minRounds"/> is below 1 (a timing needs a run).</exception>
    public static IReadOnlyList<Timing> Interleaved(IReadOnlyList<(string Name, Action Action)> actions, TimeSpan? budget = null, int warmup = 3, int minRounds = 5)
    {
        ArgumentNullException.ThrowIfNull(actions);
        if (actions.Count == 0)
            throw new ArgumentException("Nothing to time.", nameof(actions));
        ArgumentOutOfRangeException.ThrowIfLessThan(minRounds, 1);
        for (var i = 0; i < warmup; i++)
            foreach (var (_, action) in actions)
                action();
        var limit = budget ?? TimeSpan.FromSeconds(actions.Count);
        var samples = actions.Select(_ => new List<double>()).ToList();
        var total = Stopwatch.StartNew();
        for (var round = 0; samples[0].Count < minRounds || total.Elapsed < limit; round++)
            for (var k = 0; k < actions.Count; k++)
            {
                var a = (round + k) % actions.Count;
                var clock = Stopwatch.StartNew();
                actions[a].Action();
                samples[a].Add(clock.Elapsed.TotalMilliseconds);
            }
        return actions.Select((a, i) => Summarise(a.Name, samples[i])).ToList();
    }

    internal static Timing Summarise(string name, IReadOnlyList<double> rounds)
    {
        // R-7 (Hyndman & Fan 1996): linear between the order statistics at (n − 1)·τ, numpy's and PyTorch's default; its median
        // is the mean of the two middle runs for an even count.
        var sorted = rounds.Order().ToArray();
        double Quartile(double tau) => SortedArrayStatistics.QuantileCustom(sorted, tau, QuantileDefinition.R7);
        return new Timing(name, Quartile(0.5), Quartile(0.25), Quartile(0.75), sorted.Length, rounds.ToArray());
    }
}
