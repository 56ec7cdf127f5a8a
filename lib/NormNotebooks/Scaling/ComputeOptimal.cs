// SPDX-License-Identifier: MIT
namespace NormNotebooks.Scaling;

/// <summary>A run's learning curve for the compute-optimal analyses: its parameter count and (tokens seen, loss) at each evaluation.</summary>
/// <param name="Parameters">N, the model's parameters.</param>
/// <param name="Curve">(D, loss) in increasing D; the last point is the run's end.</param>
public sealed record LearningCurve(double Parameters, IReadOnlyList<(double Tokens, double Loss)> Curve)
{
    /// <summary>Loss at <paramref name="tokens"/>, linear in log D between evaluations; null outside the curve.</summary>
    public double? LossAt(double tokens)
    {
        var c = Curve;
        if (c.Count == 0 || tokens < c[0].Tokens * (1 - 1e-12) || tokens > c[^1].Tokens * (1 + 1e-12))
            return null;
        for (var i = 1; i < c.Count; i++)
            if (tokens <= c[i].Tokens)
            {
                var t = (Math.Log(tokens) - Math.Log(c[i - 1].Tokens)) / (Math.Log(c[i].Tokens) - Math.Log(c[i - 1].Tokens));
                return c[i - 1].Loss + Math.Clamp(t, 0, 1) * (c[i].Loss - c[i - 1].Loss);
            }
        return c[^1].Loss;
    }
}

/// <summary>One IsoFLOP profile (Hoffmann et al. 2022, approach 2): final losses of models of several sizes trained with the same compute,
/// a parabola in log N through them, and its minimum.</summary>
/// <param name="Flops">The compute budget C.</param>
/// <param name="Sizes">The model sizes N, ascending.</param>
/// <param name="Losses">Their final losses.</param>
/// <param name="Coefficients">c₀, c₁, c₂ of L ≈ c₀ + c₁·log N + c₂·(log N)².</param>
/// <param name="OptimalParameters">N at the parabola's minimum, exp(−c₁/2c₂); NaN when the parabola opens downwards.</param>
/// <param name="Interior">Whether the minimum lies inside the sizes tried (an extrapolated minimum is not evidence).</param>
public sealed record IsoFlopProfile(double Flops, IReadOnlyList<double> Sizes, IReadOnlyList<double> Losses, IReadOnlyList<double> Coefficients,
    double OptimalParameters, bool Interior)
{
    /// <summary>The parabola's loss at <paramref name="parameters"/>.</summary>
    public double LossAt(double parameters)
    {
        var x = Math.Log(parameters);
        return Coefficients[0] + Coefficients[1] * x + Coefficients[2] * x * x;
    }

    /// <summary>The parabola's loss at its minimum.</summary>
    public double MinimumLoss => LossAt(OptimalParameters);
}

/// <summary>The compute-optimal point at one compute value read off the learning curves (Hoffmann et al. 2022, approach 1).</summary>
/// <param name="Flops">C.</param>
/// <param name="OptimalParameters">N_opt(C).</param>
/// <param name="Loss">The lowest loss reached with C.</param>
/// <param name="Interior">Whether the best size is neither the smallest nor the largest that reaches C.</param>
public sealed record EnvelopePoint(double Flops, double OptimalParameters, double Loss, bool Interior);

/// <summary>
/// Hoffmann et al.'s (2022) approaches 1 and 2 to the compute-optimal allocation N_opt ∝ C^a (approach 3 is the parametric fit,
/// <see cref="ChinchillaLaw"/> with <see cref="ScalingFitter"/>). Compute is C = 6·N·D throughout.
/// </summary>
public static class ComputeOptimal
{
    /// <summary>
    /// Approach 2: fits L = c₀ + c₁·x + c₂·x², x = log N, to one budget's runs by least squares and returns its minimum.
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than three distinct sizes.</exception>
    public static IsoFlopProfile IsoFlop(double flops, IReadOnlyList<(double Parameters, double Loss)> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var sorted = runs.Where(r => double.IsFinite(r.Loss)).OrderBy(r => r.Parameters).ToList();
        if (sorted.Select(r => r.Parameters).Distinct().Count() < 3)
            throw new ArgumentException($"IsoFLOP profile at C = {flops:0.###e0}: a parabola needs at least three distinct model sizes with a finite loss; got {sorted.Select(r => r.Parameters).Distinct().Count()}.");
        var x = sorted.Select(r => Math.Log(r.Parameters)).ToArray();
        var c = Polynomial(x, sorted.Select(r => r.Loss).ToArray(), 2);
        var optimum = c[2] > 0 ? Math.Exp(-c[1] / (2 * c[2])) : double.NaN;
        var interior = c[2] > 0 && optimum > sorted[0].Parameters && optimum < sorted[^1].Parameters;
        return new IsoFlopProfile(flops, sorted.Select(r => r.Parameters).ToArray(), sorted.Select(r => r.Loss).ToArray(), c, optimum, interior);
    }

    /// <summary>
    /// Approach 1: at each compute value, every run's loss with that compute (its curve at D = C/6N, linear in log D between evaluations),
    /// the lowest over the runs of each size, and the size with the lowest of those. When that size has a smaller and a larger neighbour
    /// that also reach C, N_opt is refined to the minimum of the parabola in log N through the three (the grid of sizes is coarse);
    /// otherwise the point is kept but marked not interior.
    /// </summary>
    public static IReadOnlyList<EnvelopePoint> Envelope(IReadOnlyList<LearningCurve> runs, IReadOnlyList<double> flops)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(flops);
        var sizes = runs.Select(r => r.Parameters).Distinct().Order().ToArray();
        var points = new List<EnvelopePoint>();
        foreach (var c in flops)
        {
            var best = sizes.Select(n => (N: n, Loss: runs.Where(r => r.Parameters == n).Select(r => r.LossAt(c / (6 * n))).Where(l => l is not null)
                    .Select(l => l!.Value).DefaultIfEmpty(double.NaN).Min()))
                .Where(s => double.IsFinite(s.Loss)).ToList();
            if (best.Count == 0)
                continue;
            var k = best.IndexOf(best.MinBy(s => s.Loss));
            if (k == 0 || k == best.Count - 1)
            {
                points.Add(new EnvelopePoint(c, best[k].N, best[k].Loss, Interior: false));
                continue;
            }
            var three = best.Skip(k - 1).Take(3).ToArray();
            var profile = IsoFlop(c, three.Select(s => (s.N, s.Loss)).ToList());
            var n = profile.Interior ? profile.OptimalParameters : best[k].N;
            points.Add(new EnvelopePoint(c, n, profile.Interior ? profile.MinimumLoss : best[k].Loss, Interior: true));
        }
        return points;
    }

    /// <summary>Least-squares fit of log y = log k + a·log x: returns (a, k).</summary>
    /// <exception cref="ArgumentException">Fewer than two points, or one distinct x.</exception>
    public static (double Exponent, double Coefficient) PowerLaw(IReadOnlyList<(double X, double Y)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.Count < 2 || points.Select(p => p.X).Distinct().Count() < 2)
            throw new ArgumentException($"A power law needs at least two points with distinct x; got {points.Count}.", nameof(points));
        if (points.Any(p => !(p.X > 0) || !(p.Y > 0)))
            throw new ArgumentException("A power law is fitted on logs: every x and y must be positive.", nameof(points));
        var c = Polynomial(points.Select(p => Math.Log(p.X)).ToArray(), points.Select(p => Math.Log(p.Y)).ToArray(), 1);
        return (c[1], Math.Exp(c[0]));
    }

    // Least-squares polynomial coefficients (constant first), through the normal equations on centred x (degree ≤ 2, a handful of points).
    private static double[] Polynomial(double[] x, double[] y, int degree)
    {
        var centre = x.Average();
        var matrix = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(x.Length, degree + 1, (i, j) => Math.Pow(x[i] - centre, j));
        var beta = matrix.QR().Solve(MathNet.Numerics.LinearAlgebra.Vector<double>.Build.DenseOfArray(y)).ToArray();
        // Expand the centred polynomial back into powers of x.
        return degree == 1
            ? [beta[0] - beta[1] * centre, beta[1]]
            : [beta[0] - beta[1] * centre + beta[2] * centre * centre, beta[1] - 2 * beta[2] * centre, beta[2]];
    }
}
