// SPDX-License-Identifier: MIT
namespace NormNotebooks.Scaling;

/// <summary>
/// Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv:2203.15556, approach 3:
/// L(N, D) = E + A/N^α + B/D^β, fitted as log L̂ = LSE(a − α log N, b − β log D, e) with A = eᵃ, B = eᵇ, E = eᵉ.
/// The compute-optimal frontier under C ≈ 6ND: N_opt = G·(C/6)^a, D_opt = G⁻¹·(C/6)^b with
/// G = (αA/(βB))^(1/(α+β)), a = β/(α+β), b = α/(α+β).
/// </summary>
public sealed class ChinchillaLaw : ScalingLaw
{
    /// <summary>The paper's unrounded estimates (arXiv TeX source): log A, log B, log E, α, β.</summary>
    public static readonly double[] PaperReportedTheta = [6.0073404, 6.0179186, 0.5267228, 0.33917084, 0.2849083];

    /// <inheritdoc/>
    public override string Name => "chinchilla";
    /// <inheritdoc/>
    public override string Equation => "L(N, D) = E + A/N^α + B/D^β";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => ["N", "D"];
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["a", "b", "e", "alpha", "beta"];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
    [
        new("E", t => Math.Exp(t[2])),
        new("A", t => Math.Exp(t[0])),
        new("B", t => Math.Exp(t[1])),
        new("alpha", t => t[3]),
        new("beta", t => t[4]),
    ];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Derived =>
    [
        new("a (N_opt ∝ C^a)", t => t[4] / (t[3] + t[4])),
        new("b (D_opt ∝ C^b)", t => t[3] / (t[3] + t[4])),
        new("G", G),
    ];

    /// <summary>Hoffmann's grid: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}: 4,500 starts.</summary>
    public override IEnumerable<double[]> StartGrid()
    {
        var ab = Steps(0, 25, 5);
        return Grid(ab, ab, Steps(-1, 1, 0.5), Steps(0, 2, 0.5), Steps(0, 2, 0.5));
    }

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        Span<double> terms = [theta[0] - theta[3] * logX[0], theta[1] - theta[4] * logX[1], theta[2]];
        Span<double> w = stackalloc double[3];
        var value = LogSumExp(terms, w);
        gradient[0] = w[0];
        gradient[1] = w[1];
        gradient[2] = w[2];
        gradient[3] = -w[0] * logX[0];
        gradient[4] = -w[1] * logX[1];
        return value;
    }

    /// <summary>G = (αA/(βB))^(1/(α+β)).</summary>
    public static double G(double[] t) => Math.Exp((Math.Log(t[3]) + t[0] - Math.Log(t[4]) - t[1]) / (t[3] + t[4]));

    /// <summary>Compute-optimal parameters and tokens at compute <paramref name="flops"/> (C ≈ 6ND).</summary>
    public static (double N, double D) Optimal(double[] t, double flops)
    {
        var a = t[4] / (t[3] + t[4]);
        var b = t[3] / (t[3] + t[4]);
        var g = G(t);
        return (g * Math.Pow(flops / 6, a), Math.Pow(flops / 6, b) / g);
    }
}

/// <summary>A saturating power law in one variable: y = E + A·x^(−α), fitted as log ŷ = LSE(a − α log x, e).</summary>
public sealed class SaturatingPowerLaw : ScalingLaw
{
    /// <inheritdoc/>
    public override string Name => "power";
    /// <inheritdoc/>
    public override string Equation => "y = E + A·x^(−α)";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => ["x"];
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["a", "e", "alpha"];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
        [new("E", t => Math.Exp(t[1])), new("A", t => Math.Exp(t[0])), new("alpha", t => t[2])];

    /// <inheritdoc/>
    public override IEnumerable<double[]> StartGrid() => Grid(Steps(0, 25, 5), Steps(-1, 1, 0.5), Steps(0, 2, 0.25));

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        Span<double> terms = [theta[0] - theta[2] * logX[0], theta[1]];
        Span<double> w = stackalloc double[2];
        var value = LogSumExp(terms, w);
        gradient[0] = w[0];
        gradient[1] = w[1];
        gradient[2] = -w[0] * logX[0];
        return value;
    }
}

/// <summary>
/// Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361: a pure power law in one
/// variable, L(X) = (X_c/X)^α — L(N) with X = N (non-embedding parameters) or L(D) with X = D (tokens).
/// Fitted as log L = c − α log X with c = α log X_c, so X_c = exp(c/α).
/// </summary>
public sealed class KaplanPowerLaw(string variable) : ScalingLaw
{
    /// <inheritdoc/>
    public override string Name => $"kaplan-{variable.ToLowerInvariant()}";
    /// <inheritdoc/>
    public override string Equation => $"L({variable}) = ({variable}_c/{variable})^α";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => [variable];
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["c", "alpha"];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
        [new($"{variable}_c", t => Math.Exp(t[0] / t[1])), new($"alpha_{variable}", t => t[1])];

    /// <inheritdoc/>
    public override IEnumerable<double[]> StartGrid() => Grid(Steps(0, 4, 1), [0.02, 0.05, 0.1, 0.2, 0.5]);

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        gradient[0] = 1;
        gradient[1] = -logX[0];
        return theta[0] - theta[1] * logX[0];
    }
}

/// <summary>
/// Kaplan et al. 2020, Eq. (1.5): L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D, fitted as
/// log L = α_D·LSE((α_N/α_D)(n − log N), d − log D) with n = log N_c, d = log D_c.
/// </summary>
public sealed class KaplanJointLaw : ScalingLaw
{
    /// <inheritdoc/>
    public override string Name => "kaplan-nd";
    /// <inheritdoc/>
    public override string Equation => "L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => ["N", "D"];
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["n", "d", "alpha_N", "alpha_D"];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
    [
        new("N_c", t => Math.Exp(t[0])), new("D_c", t => Math.Exp(t[1])),
        new("alpha_N", t => t[2]), new("alpha_D", t => t[3]),
    ];

    /// <inheritdoc/>
    public override IEnumerable<double[]> StartGrid() => Grid(Steps(10, 40, 5), Steps(10, 40, 5), [0.03, 0.08, 0.2, 0.5], [0.03, 0.1, 0.3]);

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        var ratio = theta[2] / theta[3];
        Span<double> terms = [ratio * (theta[0] - logX[0]), theta[1] - logX[1]];
        Span<double> w = stackalloc double[2];
        var lse = LogSumExp(terms, w);
        gradient[0] = w[0] * theta[2];
        gradient[1] = w[1] * theta[3];
        gradient[2] = w[0] * (theta[0] - logX[0]);
        gradient[3] = lse - w[0] * terms[0];
        return theta[3] * lse;
    }
}

/// <summary>
/// Kaplan et al. 2020, Eq. (1.6), as used by Su et al. 2024 ("Unraveling the Mystery of Scaling Laws: Part I",
/// arXiv:2403.06563): L(N, S) = (N_c/N)^α_N + (S_c/S_min)^α_S, fitted as LSE(c_N − α_N log N, c_S − α_S log S_min).
/// Convert steps S to S_min with <see cref="CriticalBatch.MinimumSteps"/> first.
/// </summary>
public sealed class KaplanStepsLaw : ScalingLaw
{
    /// <inheritdoc/>
    public override string Name => "kaplan-ns";
    /// <inheritdoc/>
    public override string Equation => "L(N, S) = (N_c/N)^α_N + (S_c/S_min)^α_S";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => ["N", "S"];
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["c_N", "alpha_N", "c_S", "alpha_S"];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
    [
        new("N_c", t => Math.Exp(t[0] / t[1])), new("alpha_N", t => t[1]),
        new("S_c", t => Math.Exp(t[2] / t[3])), new("alpha_S", t => t[3]),
    ];

    /// <inheritdoc/>
    public override IEnumerable<double[]> StartGrid() => Grid(Steps(0, 6, 2), [0.05, 0.2, 0.5], Steps(0, 6, 2), [0.2, 0.5, 1.0]);

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        Span<double> terms = [theta[0] - theta[1] * logX[0], theta[2] - theta[3] * logX[1]];
        Span<double> w = stackalloc double[2];
        var value = LogSumExp(terms, w);
        gradient[0] = w[0];
        gradient[1] = -w[0] * logX[0];
        gradient[2] = w[1];
        gradient[3] = -w[1] * logX[1];
        return value;
    }
}

/// <summary>
/// Ghorbani et al. 2021, "Scaling Laws for Neural Machine Translation", arXiv:2109.07740, Eq. (2):
/// L(N_e, N_d) = α·(N̄_e/N_e)^p_e·(N̄_d/N_d)^p_d + L_∞, with fixed reference sizes N̄_e, N̄_d; fitted as
/// LSE(k − p_e(log N_e − log N̄_e) − p_d(log N_d − log N̄_d), l) with α = eᵏ, L_∞ = eˡ.
/// </summary>
public sealed class NmtLaw(double referenceEncoder, double referenceDecoder) : ScalingLaw
{
    /// <summary>N̄_e.</summary>
    public double ReferenceEncoder { get; } = referenceEncoder;

    /// <summary>N̄_d.</summary>
    public double ReferenceDecoder { get; } = referenceDecoder;

    /// <inheritdoc/>
    public override string Name => "nmt";
    /// <inheritdoc/>
    public override string Equation => "L(N_e, N_d) = α·(N̄_e/N_e)^p_e·(N̄_d/N_d)^p_d + L_∞";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => ["Ne", "Nd"];
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["k", "p_e", "p_d", "l"];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
        [new("alpha", t => Math.Exp(t[0])), new("p_e", t => t[1]), new("p_d", t => t[2]), new("L_inf", t => Math.Exp(t[3]))];

    /// <summary>The loss-optimal share of a fixed parameter budget given to the encoder, p_e/(p_e + p_d).</summary>
    public override IReadOnlyList<LawQuantity> Derived => [new("encoder share p_e/(p_e+p_d)", t => t[1] / (t[1] + t[2]))];

    /// <inheritdoc/>
    public override IEnumerable<double[]> StartGrid() => Grid(Steps(-2, 1, 1), [0, 0.25, 0.5, 1], [0, 0.25, 0.5, 1], Steps(-1, 1, 0.5));

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        var ue = logX[0] - Math.Log(ReferenceEncoder);
        var ud = logX[1] - Math.Log(ReferenceDecoder);
        Span<double> terms = [theta[0] - theta[1] * ue - theta[2] * ud, theta[3]];
        Span<double> w = stackalloc double[2];
        var value = LogSumExp(terms, w);
        gradient[0] = w[0];
        gradient[1] = -w[0] * ue;
        gradient[2] = -w[0] * ud;
        gradient[3] = w[1];
        return value;
    }
}

/// <summary>
/// A product of powers, y = c·∏ x_j^(k_j), linear in log space: the optimal-hyper-parameter laws of Li et al. 2025
/// ("Predictable Scale: Part I", arXiv:2503.04715): η_opt(N, D) = c·N^k_N·D^k_D and B_opt(D) = c·D^k_D.
/// </summary>
public sealed class LogLinearLaw(params string[] variables) : ScalingLaw
{
    /// <inheritdoc/>
    public override string Name => "loglinear";
    /// <inheritdoc/>
    public override string Equation => $"y = c·{string.Join("·", variables.Select(v => $"{v}^k_{v}"))}";
    /// <inheritdoc/>
    public override IReadOnlyList<string> Variables => variables;
    /// <inheritdoc/>
    public override IReadOnlyList<string> ParameterNames => ["log c", .. variables.Select(v => $"k_{v}")];

    /// <inheritdoc/>
    public override IReadOnlyList<LawQuantity> Reported =>
        [new("c", t => Math.Exp(t[0])), .. variables.Select((v, i) => new LawQuantity($"k_{v}", t => t[i + 1]))];

    /// <inheritdoc/>
    public override IEnumerable<double[]> StartGrid() => [new double[variables.Length + 1]];

    /// <inheritdoc/>
    public override double LogPredict(ReadOnlySpan<double> theta, ReadOnlySpan<double> logX, Span<double> gradient)
    {
        var value = theta[0];
        gradient[0] = 1;
        for (var j = 0; j < logX.Length; j++)
        {
            value += theta[j + 1] * logX[j];
            gradient[j + 1] = logX[j];
        }
        return value;
    }
}

/// <summary>
/// The critical batch size of McCandlish et al. 2018 as Kaplan et al. 2020 (Eq. 5.3) use it:
/// B_crit(L) = B*/L^(1/α_B); S_min = S/(1 + B_crit/B); E_min = E/(1 + B/B_crit).
/// </summary>
public static class CriticalBatch
{
    /// <summary>B_crit(L) = B*/L^(1/α_B), in tokens.</summary>
    public static double At(double loss, double bStar, double alphaB)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(loss);
        return bStar / Math.Pow(loss, 1 / alphaB);
    }

    /// <summary>Steps at an infinitely small-noise batch: S_min = S/(1 + B_crit/B).</summary>
    public static double MinimumSteps(double steps, double batch, double criticalBatch) => steps / (1 + criticalBatch / batch);

    /// <summary>Examples (tokens) at an infinitely large batch: E_min = E/(1 + B/B_crit).</summary>
    public static double MinimumExamples(double examples, double batch, double criticalBatch) => examples / (1 + batch / criticalBatch);

    /// <summary>
    /// From runs with several batch sizes reaching the same loss, fits (S/S_min − 1)(E/E_min − 1) = 1 and returns
    /// (S_min, E_min, B_crit = E_min/S_min). The relation is S_min/S + E_min/E = 1, linear in (S_min, E_min), so it is
    /// solved by least squares over the runs.
    /// </summary>
    /// <param name="steps">Steps each run needed to reach the loss.</param>
    /// <param name="examples">Examples (tokens) each run needed: batch × steps.</param>
    public static (double MinimumSteps, double MinimumExamples, double CriticalBatch) FromRuns(IReadOnlyList<double> steps, IReadOnlyList<double> examples)
    {
        if (steps.Count != examples.Count || steps.Count < 2)
            throw new ArgumentException("B_crit needs at least two runs with matching step and example counts.", nameof(steps));
        double aa = 0, ab = 0, bb = 0, a1 = 0, b1 = 0;
        for (var i = 0; i < steps.Count; i++)
        {
            if (!(steps[i] > 0) || !(examples[i] > 0))
                throw new ArgumentException($"Run {i + 1}: steps and examples must be positive (got {steps[i]}, {examples[i]}).", nameof(steps));
            var a = 1 / steps[i];
            var b = 1 / examples[i];
            (aa, ab, bb, a1, b1) = (aa + a * a, ab + a * b, bb + b * b, a1 + a, b1 + b);
        }
        var det = aa * bb - ab * ab;
        var sMin = (a1 * bb - b1 * ab) / det;
        var eMin = (aa * b1 - ab * a1) / det;
        if (!(sMin > 0) || !(eMin > 0))
            throw new ArgumentException($"The runs do not trace a step/example trade-off (S_min = {sMin:G4}, E_min = {eMin:G4}); add batch sizes on both sides of B_crit.");
        return (sMin, eMin, eMin / sMin);
    }
}
