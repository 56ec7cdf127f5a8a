// SPDX-License-Identifier: MIT
namespace NormNotebooks.Scaling;

/// <summary>
/// The scaling-law forms by name, the way <see cref="Norms.NormFactory"/> names the norms: one registry for <c>normnb fit --form</c>,
/// the notebooks and the tests.
/// </summary>
public static class ScalingLaws
{
    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["chinchilla", "kaplan-n", "kaplan-d", "kaplan-nd", "kaplan-ns", "nmt", "power", "loglinear"];

    /// <summary>The law called <paramref name="name"/>.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="variables">The inputs of <c>loglinear</c> (y = c·∏ x_j^k_j), e.g. ["N", "D"]; ignored by the other forms.</param>
    /// <remarks><c>nmt</c> comes with reference sizes N̄_e = N̄_d = 1; <see cref="ReferencedTo"/> moves them to the data's geometric
    /// means, which only re-parameterises α and keeps the exponents.</remarks>
    /// <exception cref="ArgumentException">An unknown name, or <c>loglinear</c> without variables.</exception>
    public static ScalingLaw Create(string name, IReadOnlyList<string>? variables = null) => name switch
    {
        "chinchilla" => new ChinchillaLaw(),
        "kaplan-n" => new KaplanPowerLaw("N"),
        "kaplan-d" => new KaplanPowerLaw("D"),
        "kaplan-nd" => new KaplanJointLaw(),
        "kaplan-ns" => new KaplanStepsLaw(),
        "nmt" => new NmtLaw(1, 1),
        "power" => new SaturatingPowerLaw(),
        "loglinear" => variables is { Count: > 0 }
            ? new LogLinearLaw([.. variables])
            : throw new ArgumentException("the loglinear law needs its variables, e.g. N and D (y = c·N^k_N·D^k_D).", nameof(variables)),
        _ => throw new ArgumentException($"unknown scaling law '{name}'; use one of {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary><paramref name="law"/> prepared for <paramref name="data"/>: an <see cref="NmtLaw"/> with its reference sizes at the
    /// data's geometric means of N_e and N_d (so α is the loss scale at a typical run); every other law unchanged.</summary>
    public static ScalingLaw ReferencedTo(ScalingLaw law, ScalingData data)
    {
        ArgumentNullException.ThrowIfNull(law);
        ArgumentNullException.ThrowIfNull(data);
        return law is NmtLaw ? new NmtLaw(GeometricMean(data, 0), GeometricMean(data, 1)) : law;
    }

    private static double GeometricMean(ScalingData data, int variable) => Math.Exp(data.X.Average(row => Math.Log(row[variable])));
}
