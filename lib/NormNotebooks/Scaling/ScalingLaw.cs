// SPDX-License-Identifier: MIT
namespace NormNotebooks.Scaling;

/// <summary>A named quantity computed from a law's internal parameters θ (e.g. A = e^a, or the frontier exponent a = β/(α+β)).</summary>
/// <param name="Name">Display name, e.g. "A", "alpha", "N_opt exponent a".</param>
/// <param name="Value">θ → value.</param>
public sealed record LawQuantity(string Name, Func<double[], double> Value);

/// <summary>
/// A parametric scaling law fitted in log space: the law gives log ŷ(θ; log x) and its gradient in θ, where θ holds
/// positive coefficients as logarithms so that predictions go through log-sum-exp and never overflow
/// (Hoffmann et al. 2022, approach 3). Subclasses are the forms the notebooks use; <see cref="ScalingFitter"/>
/// fits any of them.
/// </summary>
public abstract class ScalingLaw
{
    /// <summary>The form's short name, as <c>normnb fit --form</c> takes it.</summary>
    public abstract string Name { get; }

    /// <summary>The equation in Unicode maths.</summary>
    public abstract string Equation { get; }

    /// <summary>The input columns, outermost first (e.g. N, D).</summary>
    public abstract IReadOnlyList<string> Variables { get; }

    /// <summary>Names of the internal parameters θ, in order.</summary>
    public abstract IReadOnlyList<string> ParameterNames { get; }

    /// <summary>The parameters as the paper reports them (E, A, B, α, β …), computed from θ.</summary>
    public abstract IReadOnlyList<LawQuantity> Reported { get; }

    /// <summary>Derived quantities worth an interval of their own (frontier exponents, ratios).</summary>
    public virtual IReadOnlyList<LawQuantity> Derived => [];

    /// <summary>Starting points for the multi-start optimisation.</summary>
    public abstract IEnumerable<double[]> StartGrid();

    /// <summary>log ŷ at <paramref name="logX"/>; writes ∂ log ŷ / ∂θ into <paramref name="gradient"/>.</summary>
    public abstract double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient);

    /// <summary>ŷ at the given inputs (not logs).</summary>
    public double Predict(double[] theta, params double[] x)
    {
        if (x.Length != Variables.Count)
            throw new ArgumentException($"{Name} takes {Variables.Count} inputs ({string.Join(", ", Variables)}); got {x.Length}.", nameof(x));
        Span<double> logX = stackalloc double[x.Length];
        for (var i = 0; i < x.Length; i++)
            logX[i] = Math.Log(x[i]);
        Span<double> unused = stackalloc double[theta.Length];
        return Math.Exp(LogPredict(theta, logX, unused));
    }

    /// <summary>The law's equation with fitted values, for printing.</summary>
    public override string ToString() => $"{Name}: {Equation}";

    /// <summary>Evenly spaced values from <paramref name="from"/> to <paramref name="to"/> inclusive.</summary>
    protected static double[] Steps(double from, double to, double step) =>
        Enumerable.Range(0, (int)Math.Round((to - from) / step) + 1).Select(i => from + i * step).ToArray();

    /// <summary>The Cartesian product of the axes, first axis slowest.</summary>
    protected static IEnumerable<double[]> Grid(params double[][] axes)
    {
        var index = new int[axes.Length];
        while (true)
        {
            yield return index.Select((k, axis) => axes[axis][k]).ToArray();
            var d = axes.Length - 1;
            while (d >= 0 && ++index[d] == axes[d].Length)
                index[d--] = 0;
            if (d < 0)
                yield break;
        }
    }

    /// <summary>log Σ exp(tᵢ), writing the softmax weights ∂/∂tᵢ into <paramref name="weights"/>.</summary>
    protected static double LogSumExp(ReadOnlySpan<double> terms, Span<double> weights)
    {
        var max = double.NegativeInfinity;
        foreach (var t in terms)
            max = Math.Max(max, t);
        var sum = 0.0;
        for (var i = 0; i < terms.Length; i++)
        {
            weights[i] = Math.Exp(terms[i] - max);
            sum += weights[i];
        }
        for (var i = 0; i < terms.Length; i++)
            weights[i] /= sum;
        return max + Math.Log(sum);
    }
}
