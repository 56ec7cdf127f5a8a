// SPDX-License-Identifier: MIT
using MathNet.Numerics.Distributions;

namespace NormNotebooks.Reporting;

/// <summary>
/// A mean with its two-sided Student-t confidence interval over independent (or paired-difference) samples; for ratios the mean and
/// the interval are taken on the log scale and mapped back (a geometric mean), so 2× and 0.5× are symmetric. Lower and Upper are null
/// below two samples.
/// </summary>
/// <param name="Estimate">The mean (geometric mean for ratios).</param>
/// <param name="Lower">Lower end of the interval, or null when n &lt; 2.</param>
/// <param name="Upper">Upper end of the interval, or null when n &lt; 2.</param>
/// <param name="N">Number of samples.</param>
/// <param name="Confidence">Coverage of the interval, e.g. 0.95.</param>
public sealed record Interval(double Estimate, double? Lower, double? Upper, int N, double Confidence)
{
    /// <summary>The t interval of <paramref name="samples"/> (log scale when <paramref name="ratio"/>).</summary>
    public static Interval Of(IReadOnlyList<double> samples, bool ratio = false, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
            throw new ArgumentException("An interval needs at least one sample.", nameof(samples));
        if (confidence is <= 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence must lie in (0, 1).");
        if (samples.Any(s => !double.IsFinite(s) || (ratio && s <= 0)))
            throw new ArgumentException($"Samples must be finite{(ratio ? " and positive (ratios)" : "")}: {string.Join(", ", samples)}.", nameof(samples));
        var scaled = samples.Select(s => ratio ? Math.Log(s) : s).ToArray();
        var back = (double v) => ratio ? Math.Exp(v) : v;
        var n = scaled.Length;
        var mean = scaled.Average();
        if (n < 2)
            return new Interval(back(mean), null, null, n, confidence);
        var sd = SampleStatistics.StandardDeviation(scaled, mean);
        var half = StudentT.InvCDF(0, 1, n - 1, 0.5 + confidence / 2) * sd / Math.Sqrt(n);
        return new Interval(back(mean), back(mean - half), back(mean + half), n, confidence);
    }
}
