// SPDX-License-Identifier: MIT
using System.Numerics;

namespace NormNotebooks.Tests.Support;

/// <summary>Sample statistics written from their definitions, independent of MathNet, to check the library's against.</summary>
internal static class ReferenceStatistics
{
    /// <summary>R-7 (Hyndman &amp; Fan 1996; numpy's default): linear between the order statistics at 0-based rank (n − 1)·τ of ascending <paramref name="sorted"/>.</summary>
    public static double LinearAtRank(IReadOnlyList<double> sorted, double tau)
    {
        var rank = tau * (sorted.Count - 1);
        var below = (int)Math.Floor(rank);
        var above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }

    /// <summary>√(Σ(xᵢ − x̄)² / (n − 1)) in two passes: the mean first, then the squared deviations.</summary>
    public static double TwoPassStandardDeviation(IReadOnlyCollection<double> values)
    {
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    /// <summary>
    /// The sample standard deviation of the doubles as given, in exact integer arithmetic (each finite double times 2¹⁰⁷⁴ is an
    /// integer): s² = (n·ΣX² − (ΣX)²) / (n(n − 1)), rounded to a double only at the end (within 2 ulps).
    /// </summary>
    public static double ExactStandardDeviation(IReadOnlyCollection<double> values)
    {
        var scaled = values.Select(Times2To1074).ToArray();
        var sum = scaled.Aggregate(BigInteger.Zero, (total, x) => total + x);
        var squares = scaled.Aggregate(BigInteger.Zero, (total, x) => total + x * x);
        var numerator = values.Count * squares - sum * sum;   // n(n − 1)·s²·2²¹⁴⁸
        var denominator = new BigInteger(values.Count) * (values.Count - 1);
        var shift = (int)(denominator.GetBitLength() - numerator.GetBitLength()) + 64;   // a quotient of about 64 bits
        var quotient = (numerator << Math.Max(shift, 0)) / (denominator << Math.Max(-shift, 0));
        return Math.Sqrt(Math.ScaleB((double)quotient, -shift - 2148));

        static BigInteger Times2To1074(double value)
        {
            var bits = BitConverter.DoubleToInt64Bits(value);
            var (exponent, fraction) = ((int)((bits >> 52) & 0x7FF), bits & 0xF_FFFF_FFFF_FFFF);
            var magnitude = exponent == 0 ? new BigInteger(fraction) : new BigInteger(fraction | (1L << 52)) << (exponent - 1);
            return bits < 0 ? -magnitude : magnitude;
        }
    }
}
