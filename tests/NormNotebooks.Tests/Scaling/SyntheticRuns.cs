// SPDX-License-Identifier: MIT
using NormNotebooks.Scaling;

namespace NormNotebooks.Tests.Scaling;

/// <summary>Data generated from a law with known parameters, with optional multiplicative log-normal noise.</summary>
internal static class SyntheticRuns
{
    /// <summary>Hoffmann et al.'s unrounded Chinchilla constants as θ = (log A, log B, log E, α, β).</summary>
    public static readonly double[] Chinchilla = ChinchillaLaw.PaperReportedTheta;

    public static ScalingData Generate(ScalingLaw law, double[] theta, int count, double noise, int seed, params (double Low, double High)[] ranges)
    {
        var random = new Random(seed);
        var x = new List<double[]>();
        var y = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var row = ranges.Select(r => Math.Exp(Math.Log(r.Low) + random.NextDouble() * (Math.Log(r.High) - Math.Log(r.Low)))).ToArray();
            x.Add(row);
            y.Add(law.Predict(theta, row) * Math.Exp(noise * Gaussian(random)));
        }
        return new ScalingData(law.Variables, x, y);
    }

    public static ScalingData ChinchillaRuns(int count, double noise, int seed) =>
        Generate(new ChinchillaLaw(), Chinchilla, count, noise, seed, (7e7, 1.6e10), (5e9, 5e11));

    /// <summary>Every 15th point of Hoffmann's 4,500-point grid: 300 starts, enough for tests that are not about the grid.</summary>
    public static IReadOnlyList<double[]> ThinChinchillaGrid() => new ChinchillaLaw().StartGrid().Where((_, i) => i % 15 == 0).ToList();

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
