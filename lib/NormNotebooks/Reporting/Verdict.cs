// SPDX-License-Identifier: MIT
namespace NormNotebooks.Reporting;

/// <summary>The outcome of a claim at our scale.</summary>
public enum Verdict
{
    /// <summary>The claim held.</summary>
    Held,

    /// <summary>The claim did not reproduce at our scale.</summary>
    NotReproduced,

    /// <summary>Quick mode: measured and shown, not judged (sizes too small to decide).</summary>
    Reported,

    /// <summary>The interval cannot tell the paper's effect from none (or the experiment is outside the claim's regime).</summary>
    Inconclusive,
}

/// <summary>How verdicts read in tables, text and the run summary.</summary>
public static class Verdicts
{
    /// <summary>"held", "not reproduced", "inconclusive" or "reported".</summary>
    public static string Text(Verdict verdict) => verdict switch
    {
        Verdict.Held => "held",
        Verdict.NotReproduced => "not reproduced",
        Verdict.Inconclusive => "inconclusive",
        Verdict.Reported => "reported",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "Not a verdict."),
    };
}
