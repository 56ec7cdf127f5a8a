// SPDX-License-Identifier: MIT
using System.Diagnostics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.Optimization;
using MathNet.Numerics.Statistics;
using NormNotebooks.Reporting;

namespace NormNotebooks.Scaling;

/// <summary>The loss on log residuals rᵢ = log ŷᵢ − log yᵢ.</summary>
public enum ResidualLoss
{
    /// <summary>Huber with threshold δ: r²/2 for |r| ≤ δ, δ(|r| − δ/2) beyond (Hoffmann et al.; δ = 1e-3).</summary>
    Huber,

    /// <summary>Plain least squares, r²/2.</summary>
    Squared,
}

/// <summary>How to fit.</summary>
public sealed record FitOptions
{
    /// <summary>The residual loss; Huber by default.</summary>
    public ResidualLoss Loss { get; init; } = ResidualLoss.Huber;

    /// <summary>Huber's δ on log residuals (Hoffmann et al. 2022: 1e-3).</summary>
    public double HuberDelta { get; init; } = 1e-3;

    /// <summary>Drop this many rows with the highest observed values before fitting (Besiroglu et al. drop 5); 0 by default.</summary>
    public int DropHighest { get; init; }

    /// <summary>Bootstrap resamples (0: none).</summary>
    public int Bootstrap { get; init; }

    /// <summary>Seed for the bootstrap.</summary>
    public int Seed { get; init; }

    /// <summary>Coverage of the percentile intervals.</summary>
    public double Level { get; init; } = 0.95;

    /// <summary>Optional explicit starting points instead of the law's grid.</summary>
    public IReadOnlyList<double[]>? Starts { get; init; }

    /// <summary>L-BFGS iteration cap per start.</summary>
    public int MaxIterations { get; init; } = 2000;

    /// <summary>Average the loss over rows instead of summing it. Off by default and there only to show the pitfall Besiroglu et al.
    /// (2024) found in Hoffmann et al.'s fit: the mean shrinks the objective and its gradient n-fold, so a gradient test stops L-BFGS
    /// near its start.</summary>
    public bool Average { get; init; }

    /// <summary>L-BFGS stops when the gradient's norm falls below this (SciPy's L-BFGS-B default, pgtol, is 1e-5).</summary>
    public double GradientTolerance { get; init; } = 1e-9;
}

/// <summary>An estimate with its bootstrap standard error and percentile interval (null without a bootstrap).</summary>
public sealed record Estimate(string Name, double Value, double? StandardError, double? Lower, double? Upper);

/// <summary>A point prediction and its bootstrap band.</summary>
public sealed record Prediction(double Value, double? Lower, double? Upper);

/// <summary>The result of fitting a <see cref="ScalingLaw"/>.</summary>
public sealed class ScalingFit
{
    internal ScalingFit(ScalingLaw law, double[] theta, double objective, bool converged, string exitReason, int iterations,
        int starts, int startsAtBest, int points, IReadOnlyList<string> dropped, double rms, double maxAbs,
        IReadOnlyList<double[]> ensemble, int bootstrapFailures, double level, TimeSpan elapsed)
    {
        (Law, Theta, Objective, Converged, ExitReason, Iterations, Starts, StartsAtBest, Points, DroppedRows) =
            (law, theta, objective, converged, exitReason, iterations, starts, startsAtBest, points, dropped);
        (RmsLogResidual, MaxAbsLogResidual, Ensemble, BootstrapFailures, Level, Elapsed) = (rms, maxAbs, ensemble, bootstrapFailures, level, elapsed);
        Parameters = law.Reported.Select(q => SummariseOrPoint(q.Name, q.Value)).ToList();
        Derived = law.Derived.Select(q => SummariseOrPoint(q.Name, q.Value)).ToList();
    }

    /// <summary>The law fitted.</summary>
    public ScalingLaw Law { get; }

    /// <summary>The best internal parameters θ.</summary>
    public double[] Theta { get; }

    /// <summary>The summed loss at <see cref="Theta"/>.</summary>
    public double Objective { get; }

    /// <summary>Whether the best start met a convergence criterion (see <see cref="ExitReason"/>).</summary>
    public bool Converged { get; }

    /// <summary>Why L-BFGS stopped on the best start.</summary>
    public string ExitReason { get; }

    /// <summary>L-BFGS iterations on the best start.</summary>
    public int Iterations { get; }

    /// <summary>Starts tried.</summary>
    public int Starts { get; }

    /// <summary>Starts whose optimum is within 1e-6 (relative) of the best objective.</summary>
    public int StartsAtBest { get; }

    /// <summary>Rows fitted.</summary>
    public int Points { get; }

    /// <summary>Rows removed by <see cref="FitOptions.DropHighest"/>.</summary>
    public IReadOnlyList<string> DroppedRows { get; }

    /// <summary>Root-mean-square of the log residuals.</summary>
    public double RmsLogResidual { get; }

    /// <summary>Largest |log residual|.</summary>
    public double MaxAbsLogResidual { get; }

    /// <summary>θ of each successful bootstrap refit.</summary>
    public IReadOnlyList<double[]> Ensemble { get; }

    /// <summary>Bootstrap refits that failed to converge (left out of the intervals).</summary>
    public int BootstrapFailures { get; }

    /// <summary>Coverage of the intervals.</summary>
    public double Level { get; }

    /// <summary>Wall time of the fit, bootstrap included.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The reported parameters with intervals.</summary>
    public IReadOnlyList<Estimate> Parameters { get; }

    /// <summary>Derived quantities with intervals.</summary>
    public IReadOnlyList<Estimate> Derived { get; }

    /// <summary>A reported or derived estimate by name.</summary>
    public Estimate this[string name] =>
        Parameters.Concat(Derived).FirstOrDefault(e => e.Name == name)
        ?? throw new KeyNotFoundException($"The {Law.Name} law has no estimate '{name}'; it has {string.Join(", ", Parameters.Concat(Derived).Select(e => e.Name))}.");

    /// <summary>
    /// Summarises any function of θ over the best fit and the bootstrap ensemble: the standard error is the sample standard
    /// deviation (n − 1) of the quantity over the refits where it is finite, and the interval runs between its R-7 percentiles
    /// at τ = (1 ∓ Level)/2 (Hyndman &amp; Fan 1996: linear between the order statistics at rank (n − 1)·τ; numpy's and
    /// PyTorch's default).
    /// </summary>
    /// <exception cref="InvalidOperationException">The quantity is not finite in any bootstrap refit.</exception>
    public Estimate Summarise(string name, Func<double[], double> quantity)
    {
        var value = quantity(Theta);
        if (Ensemble.Count < 2)
            return new Estimate(name, value, null, null, null);
        var samples = Ensemble.Select(quantity).Where(double.IsFinite).Order().ToArray();
        if (samples.Length == 0)
            throw new InvalidOperationException($"{Law.Name} fit: '{name}' is not finite in any of the {Ensemble.Count} bootstrap refits.");
        var se = SampleStatistics.StandardDeviation(samples, samples.Average());
        var tail = (1 - Level) / 2;
        return new Estimate(name, value, se, Percentile(tail), Percentile(1 - tail));

        double Percentile(double tau) => SortedArrayStatistics.QuantileCustom(samples, tau, QuantileDefinition.R7);
    }

    // A reported quantity that overflows in every refit (a degenerate fit: a term's coefficient at e^700) keeps its point estimate,
    // without an interval, instead of failing the whole fit; Summarise, asked for it explicitly, still says why.
    private Estimate SummariseOrPoint(string name, Func<double[], double> quantity) =>
        Ensemble.Count >= 2 && !Ensemble.Select(quantity).Any(double.IsFinite) ? new Estimate(name, quantity(Theta), null, null, null) : Summarise(name, quantity);

    /// <summary>The prediction at <paramref name="x"/> (inputs in the law's order) with its bootstrap band.</summary>
    public Prediction Predict(params double[] x)
    {
        var estimate = Summarise("prediction", theta => Law.Predict(theta, x));
        return new Prediction(estimate.Value, estimate.Lower, estimate.Upper);
    }
}

/// <summary>
/// Fits scaling laws the way Hoffmann et al. (2022, approach 3) describe and Besiroglu et al. (2024, "Chinchilla
/// Scaling: A replication attempt", arXiv:2404.10102) corrected: Huber loss (δ = 1e-3) on log residuals,
/// <b>summed</b> over points (a mean shrinks the objective so far that L-BFGS stops at its start), L-BFGS from every
/// point of a start grid, and a bootstrap over rows (or over groups, for checkpoints of one run) refitted from the
/// best θ for standard errors and percentile intervals of every parameter and derived quantity.
/// </summary>
public static class ScalingFitter
{
    private static readonly HashSet<ExitCondition> Converging =
        [ExitCondition.AbsoluteGradient, ExitCondition.RelativeGradient, ExitCondition.RelativePoints, ExitCondition.Converged, ExitCondition.LackOfProgress];

    /// <summary>Fits <paramref name="law"/> to <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentException">The data cannot be fitted (the message names the row).</exception>
    public static ScalingFit Fit(ScalingLaw law, ScalingData data, FitOptions? options = null)
    {
        options ??= new FitOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.DropHighest, nameof(options.DropHighest));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Bootstrap, nameof(options.Bootstrap));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.HuberDelta, nameof(options.HuberDelta));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.GradientTolerance, nameof(options.GradientTolerance));
        if (options.Level is <= 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"Level must be in (0, 1); got {options.Level}.");
        var clock = Stopwatch.StartNew();
        data.Validate(law);
        var kept = Enumerable.Range(0, data.Count).OrderByDescending(i => data.Y[i]).ThenBy(i => i).Skip(options.DropHighest).Order().ToList();
        var dropped = Enumerable.Range(0, data.Count).Except(kept).Select(i => data.RowNames[i]).ToList();
        var fitted = data.Subset(kept);
        fitted.Validate(law);

        var problem = new Problem(law, fitted, options);
        var all = Enumerable.Range(0, fitted.Count).ToArray();
        var starts = (options.Starts ?? law.StartGrid().ToList()).ToList();
        var results = new Attempt?[starts.Count];
        Parallel.For(0, starts.Count, i => results[i] = problem.Minimise(starts[i], all));
        var finished = results.Where(r => r is not null).Select(r => r!).ToList();
        if (finished.Count == 0)
            throw new InvalidOperationException(
                $"{data.Source}: the {law.Name} fit did not converge from any of {starts.Count} starts (each hit {options.MaxIterations} L-BFGS iterations, a failed line search, or a non-finite loss).");
        // The lowest objective wins whether or not its start met a criterion, and the fit reports which: a degenerate
        // start (one term swamping the others) can "converge" at once to a poor stationary point, e.g. the median.
        var best = finished.MinBy(r => r.Objective)!;
        var tolerance = 1e-6 * Math.Max(1, Math.Abs(best.Objective));
        var atBest = finished.Count(r => Math.Abs(r.Objective - best.Objective) <= tolerance);

        var residuals = all.Select(i => problem.LogResidual(best.Theta, i)).ToArray();
        var rms = Math.Sqrt(residuals.Average(r => r * r));
        var maxAbs = residuals.Max(Math.Abs);

        var (ensemble, failures) = Bootstrap(problem, fitted, best.Theta, options);
        return new ScalingFit(law, best.Theta, best.Objective, best.Converged, best.Reason, best.Iterations, starts.Count, atBest,
            fitted.Count, dropped, rms, maxAbs, ensemble, failures, options.Level, clock.Elapsed);
    }

    private static (IReadOnlyList<double[]> Ensemble, int Failures) Bootstrap(Problem problem, ScalingData data, double[] start, FitOptions options)
    {
        if (options.Bootstrap == 0)
            return ([], 0);
        // Resample whole groups when the rows carry them (checkpoints of one run are not independent), else rows.
        var clusters = data.Groups is null
            ? Enumerable.Range(0, data.Count).Select(i => new[] { i }).ToArray()
            : Enumerable.Range(0, data.Count).GroupBy(i => data.Groups[i], StringComparer.Ordinal).Select(g => g.ToArray()).ToArray();
        var random = new Random(options.Seed);
        var samples = new int[options.Bootstrap][];
        for (var b = 0; b < options.Bootstrap; b++)
            samples[b] = Enumerable.Range(0, clusters.Length).SelectMany(_ => clusters[random.Next(clusters.Length)]).ToArray();
        var fits = new Attempt?[options.Bootstrap];
        Parallel.For(0, options.Bootstrap, b => fits[b] = problem.Minimise(start, samples[b]));
        var ensemble = fits.Where(f => f is { Converged: true }).Select(f => f!.Theta).ToList();
        return (ensemble, options.Bootstrap - ensemble.Count);
    }

    private sealed record Attempt(double[] Theta, double Objective, bool Converged, string Reason, int Iterations);

    private sealed class Problem(ScalingLaw law, ScalingData data, FitOptions options)
    {
        private readonly double[][] _logX = data.X.Select(row => row.Select(v => Math.Log(v)).ToArray()).ToArray();
        private readonly double[] _logY = data.Y.Select(v => Math.Log(v)).ToArray();

        public double LogResidual(double[] theta, int i)
        {
            Span<double> unused = stackalloc double[theta.Length];
            return law.LogPredict(theta, _logX[i], unused) - _logY[i];
        }

        public Attempt? Minimise(double[] start, int[] rows)
        {
            var objective = ObjectiveFunction.Gradient(theta => Evaluate(theta, rows));
            var minimizer = new LimitedMemoryBfgsMinimizer(options.GradientTolerance, 1e-12, 1e-15, 10, options.MaxIterations);
            try
            {
                var result = minimizer.FindMinimum(objective, Vector<double>.Build.DenseOfArray(start));
                var theta = result.MinimizingPoint.ToArray();
                var value = result.FunctionInfoAtMinimum.Value;
                // MathNet 5.0's L-BFGS stops at the iteration cap but still reports its last test (often AbsoluteGradient).
                var capped = result.Iterations > options.MaxIterations;
                var reason = capped ? nameof(ExitCondition.ExceedIterations) : result.ReasonForExit.ToString();
                return double.IsFinite(value) && theta.All(double.IsFinite)
                    ? new Attempt(theta, value, !capped && Converging.Contains(result.ReasonForExit), reason, result.Iterations)
                    : null;
            }
            catch (MaximumIterationsException)
            {
                return null;
            }
            catch (Exception e) when (e is OptimizationException or ArithmeticException)
            {
                // Line search failure or a non-finite evaluation along the way: this start is lost, not the fit.
                return null;
            }
        }

        private (double, Vector<double>) Evaluate(Vector<double> point, int[] rows)
        {
            var theta = point.AsArray() ?? point.ToArray();
            var gradient = new double[theta.Length];
            Span<double> local = stackalloc double[theta.Length];
            var total = 0.0;
            var delta = options.HuberDelta;
            foreach (var i in rows)
            {
                var r = law.LogPredict(theta, _logX[i], local) - _logY[i];
                double loss, slope;
                if (options.Loss == ResidualLoss.Squared || Math.Abs(r) <= delta)
                    (loss, slope) = (0.5 * r * r, r);
                else
                    (loss, slope) = (delta * (Math.Abs(r) - 0.5 * delta), delta * Math.Sign(r));
                total += loss;
                for (var k = 0; k < gradient.Length; k++)
                    gradient[k] += slope * local[k];
            }
            if (options.Average)
            {
                total /= rows.Length;
                for (var k = 0; k < gradient.Length; k++)
                    gradient[k] /= rows.Length;
            }
            return (total, Vector<double>.Build.DenseOfArray(gradient));
        }
    }
}
