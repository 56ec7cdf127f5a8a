// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NormNotebooks.Reporting;

/// <summary>How a claim is decided.</summary>
public enum ClaimRule
{
    /// <summary>The method changes the metric in the paper's direction: judged from a confidence interval of the paired effect.</summary>
    Effect,

    /// <summary>The method matches the baseline: the interval of the effect lies inside ±margin.</summary>
    Equivalence,

    /// <summary>An identity that holds to rounding: max |Δ| within a tolerance, in quick and full mode.</summary>
    Exact,

    /// <summary>Two quantities differ, in either direction (a paper that claims a difference but not its sign, or whose sign is a
    /// property of the task): held when the interval excludes 0 (1 for a ratio); not reproduced when it lies inside ±margin.</summary>
    Difference,

    /// <summary>The method is no worse than the baseline ("matches or outperforms"): the interval's lower end lies above −margin
    /// (a one-sided equivalence; the effect is signed so that larger is better).</summary>
    NonInferiority,
}

/// <summary>A claim as declared before its experiment: the only place its rule, direction and threshold live.</summary>
/// <param name="Id">Short key the judging cell refers to.</param>
/// <param name="Statement">The claim in our words.</param>
/// <param name="Rule">How it is decided.</param>
/// <param name="Metric">What is measured, as the effect: "validation loss, PN − LN", "step time, RMSNorm / LayerNorm".</param>
/// <param name="Unit">Unit of the effect ("nats/char", "×", "%"…).</param>
/// <param name="Paper">The paper's number in its own unit, with its table or figure.</param>
/// <param name="PaperEffect">Effect rule: the paper's effect converted to our unit (a difference, or a ratio when <paramref name="Ratio"/>);
/// its sign (a ratio's side of 1) is the paper's direction.</param>
/// <param name="Margin">Equivalence and non-inferiority rules: the margin (a difference, or a factor &gt; 1 when <paramref name="Ratio"/>).</param>
/// <param name="Tolerance">Exact rule: the largest max |Δ| that still counts as equal.</param>
/// <param name="Ratio">The effect is a ratio method/baseline, judged on the log scale.</param>
/// <param name="Conversion">How the paper's number became ours (or why none could, and which smallest effect of interest stands in).</param>
public sealed record ClaimDeclaration(string Id, string Statement, ClaimRule Rule, string Metric, string Unit, string Paper,
    double? PaperEffect = null, double? Margin = null, double? Tolerance = null, bool Ratio = false, string? Conversion = null);

/// <summary>A judged claim: the estimate, its interval over n paired samples, and the verdict the declared rule gives.</summary>
public sealed record ClaimOutcome(ClaimDeclaration Declaration, Verdict Verdict, double? Estimate, double? Lower, double? Upper, int N, string Note);

/// <summary>
/// Pre-registered claims. A notebook declares each claim (statement, metric, the paper's effect in our unit, the rule) in a cell before
/// its experiment; after the run it hands the register the paired samples, and the verdict follows from a t confidence interval:
/// an effect claim is <b>held</b> when the interval excludes 0 in the paper's direction, <b>not reproduced</b> when it lies entirely
/// on the other side of the paper's effect (smaller, or of the opposite sign), <b>inconclusive</b> otherwise; an equivalence claim is
/// held when the interval lies inside ±margin and not reproduced when it lies outside it; a non-inferiority claim ("matches or
/// outperforms") is held when the interval lies above −margin and not reproduced when it lies below it. Fewer than <see cref="MinimumSamples"/>
/// samples, or a model outside the regime where the claim can show, give inconclusive. Quick mode reports statistical claims without
/// judging them; exact identities are judged in both modes and <see cref="Check"/> throws when one fails.
/// </summary>
public sealed class ClaimsRegister(bool quick, double confidence = 0.95)
{
    /// <summary>MIME type of the machine-readable claims (the runner copies it into the run summary).</summary>
    public const string MimeType = "application/vnd.normnotebooks.claims+json";

    /// <summary>Paired samples needed before a statistical claim can be held or rejected.</summary>
    public const int MinimumSamples = 3;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly List<ClaimDeclaration> _declared = [];
    private readonly Dictionary<string, ClaimOutcome> _outcomes = [];

    /// <summary>Whether the notebook ran in quick mode.</summary>
    public bool Quick { get; } = quick;

    /// <summary>Two-sided confidence level of the intervals.</summary>
    public double Confidence { get; } = confidence > 0 && confidence < 1 ? confidence
        : throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "Confidence must lie in (0, 1).");

    /// <summary>The declarations, in order.</summary>
    public IReadOnlyList<ClaimDeclaration> Declared => _declared;

    /// <summary>Declares that the method moves the metric by about <paramref name="paperEffect"/> (its sign is the direction).</summary>
    public ClaimsRegister DeclareEffect(string id, string statement, string metric, string unit, double paperEffect, string paper,
        string? conversion = null, bool ratio = false)
    {
        if (ratio ? !(paperEffect > 0) || paperEffect == 1 : paperEffect == 0 || !double.IsFinite(paperEffect))
            throw new ArgumentOutOfRangeException(nameof(paperEffect), paperEffect,
                $"Claim '{id}': the paper's effect sets the direction, so it must be {(ratio ? "a positive ratio other than 1" : "finite and non-zero")}.");
        return Add(new ClaimDeclaration(id, statement, ClaimRule.Effect, metric, unit, paper, PaperEffect: paperEffect, Ratio: ratio, Conversion: conversion));
    }

    /// <summary>Declares that the method matches the baseline within ±<paramref name="margin"/> (a factor &gt; 1 for a ratio).</summary>
    public ClaimsRegister DeclareEquivalence(string id, string statement, string metric, string unit, double margin, string paper,
        string? conversion = null, bool ratio = false)
    {
        if (ratio ? !(margin > 1) : !(margin > 0))
            throw new ArgumentOutOfRangeException(nameof(margin), margin, $"Claim '{id}': the margin must be {(ratio ? "a factor above 1" : "positive")}.");
        return Add(new ClaimDeclaration(id, statement, ClaimRule.Equivalence, metric, unit, paper, Margin: margin, Ratio: ratio, Conversion: conversion));
    }

    /// <summary>Declares that two quantities differ, in either direction: held when the interval excludes 0 (1 for a ratio), not
    /// reproduced when it lies inside ±<paramref name="margin"/> (÷/× for a ratio), inconclusive otherwise.</summary>
    public ClaimsRegister DeclareDifference(string id, string statement, string metric, string unit, double margin, string paper,
        string? conversion = null, bool ratio = false)
    {
        if (ratio ? !(margin > 1) : !(margin > 0))
            throw new ArgumentOutOfRangeException(nameof(margin), margin, $"Claim '{id}': the margin must be {(ratio ? "above 1 (a ratio)" : "positive")}.");
        return Add(new ClaimDeclaration(id, statement, ClaimRule.Difference, metric, unit, paper, Margin: margin, Ratio: ratio, Conversion: conversion));
    }

    /// <summary>Declares that the method is no worse than the baseline by more than <paramref name="margin"/> ("matches or outperforms"):
    /// held when the whole interval of method − baseline lies above −margin (above 1/margin for a ratio), not reproduced when it lies
    /// below. Sign the metric so that larger is better.</summary>
    public ClaimsRegister DeclareNonInferiority(string id, string statement, string metric, string unit, double margin, string paper,
        string? conversion = null, bool ratio = false)
    {
        if (ratio ? !(margin > 1) : !(margin > 0))
            throw new ArgumentOutOfRangeException(nameof(margin), margin, $"Claim '{id}': the margin must be {(ratio ? "a factor above 1" : "positive")}.");
        return Add(new ClaimDeclaration(id, statement, ClaimRule.NonInferiority, metric, unit, paper, Margin: margin, Ratio: ratio, Conversion: conversion));
    }

    /// <summary>Declares an identity: max |Δ| ≤ <paramref name="tolerance"/>.</summary>
    public ClaimsRegister DeclareExact(string id, string statement, string metric, double tolerance, string paper)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        return Add(new ClaimDeclaration(id, statement, ClaimRule.Exact, metric, "", paper, Tolerance: tolerance));
    }

    /// <summary>Judges a claim from paired measurements: sample i of both arms shares the seed (or timing round); the effect is
    /// method − baseline (method / baseline for a ratio claim).</summary>
    public ClaimOutcome JudgePaired(string id, IReadOnlyList<double> method, IReadOnlyList<double> baseline)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(baseline);
        if (method.Count != baseline.Count)
            throw new ArgumentException($"Claim '{id}': {method.Count} method samples but {baseline.Count} baseline samples; they must pair.", nameof(baseline));
        var ratio = Declaration(id).Ratio;
        return Judge(id, method.Zip(baseline, (m, b) => ratio ? m / b : m - b).ToArray());
    }

    /// <summary>Judges a claim from samples of the effect itself (already paired differences, or ratios for a ratio claim).</summary>
    public ClaimOutcome Judge(string id, IReadOnlyList<double> effects) => Record(Evaluate(Declaration(id), effects, regime: null));

    /// <summary>Judges a claim from an estimate and an interval computed elsewhere — a bootstrap over runs, for a fitted scaling-law
    /// exponent — with the declared rule (a ratio claim's interval is given as ratios). <paramref name="n"/> counts what was resampled
    /// (runs); <paramref name="how"/> says how the interval was made and is printed with the verdict. Quick mode reports, as always.</summary>
    public ClaimOutcome JudgeInterval(string id, double estimate, double lower, double upper, int n, string how)
    {
        var d = Declaration(id);
        if (d.Rule == ClaimRule.Exact)
            throw new InvalidOperationException($"Claim '{id}' is exact; judge it with JudgeExact.");
        ArgumentException.ThrowIfNullOrWhiteSpace(how);
        if (!double.IsFinite(estimate) || !double.IsFinite(lower) || !double.IsFinite(upper) || lower > upper || (d.Ratio && lower <= 0))
            throw new ArgumentException($"Claim '{id}': the interval [{lower}, {upper}] around {estimate} must be finite and ordered{(d.Ratio ? ", with positive ratios" : "")}.");
        var (verdict, note) = Quick ? (Verdict.Reported, "quick mode: reported, not judged")
            : n < MinimumSamples ? (Verdict.Inconclusive, $"n = {n} < {MinimumSamples}")
            : Decide(d, d.Ratio ? Math.Log(lower) : lower, d.Ratio ? Math.Log(upper) : upper);
        return Record(new ClaimOutcome(d, verdict, estimate, lower, upper, n, $"{note}; {how}"));
    }

    /// <summary>Records a claim as inconclusive because the experiment is outside the regime where it can show (the reason says
    /// why); the effect, when given, is still reported with its interval.</summary>
    public ClaimOutcome JudgeOutOfRegime(string id, string reason, IReadOnlyList<double>? effects = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return Record(Evaluate(Declaration(id), effects ?? [], reason));
    }

    /// <summary>Judges an exact claim from the largest deviation measured.</summary>
    public ClaimOutcome JudgeExact(string id, double maxAbsDifference)
    {
        var declaration = Declaration(id);
        if (declaration.Rule != ClaimRule.Exact)
            throw new InvalidOperationException($"Claim '{id}' was declared as {declaration.Rule}, not exact; judge it with samples.");
        var holds = maxAbsDifference <= declaration.Tolerance;   // NaN fails
        return Record(new ClaimOutcome(declaration, holds ? Verdict.Held : Verdict.NotReproduced, maxAbsDifference, null, null, 1,
            $"max |Δ| {maxAbsDifference:0.0e+0} (tolerance {declaration.Tolerance:0.0e+0})"));
    }

    /// <summary>The outcome of a judged claim.</summary>
    public ClaimOutcome Outcome(string id) => _outcomes.TryGetValue(id, out var outcome)
        ? outcome
        : throw new KeyNotFoundException($"Claim '{id}' has not been judged yet.");

    /// <summary>All outcomes, in declaration order (declared but unjudged claims are left out).</summary>
    public IReadOnlyList<ClaimOutcome> Outcomes => _declared.Where(d => _outcomes.ContainsKey(d.Id)).Select(d => _outcomes[d.Id]).ToList();

    /// <summary>The declarations as an HTML table, for the cell that declares them.</summary>
    public string DeclarationsHtml()
    {
        var html = new StringBuilder("<table><thead><tr><th>id</th><th>claim</th><th>metric (effect)</th><th>paper</th><th>decision rule</th></tr></thead><tbody>");
        foreach (var d in _declared)
            html.Append("<tr><td>").Append(Encode(d.Id)).Append("</td><td>").Append(Encode(d.Statement)).Append("</td><td>").Append(Encode(d.Metric))
                .Append("</td><td>").Append(Encode(d.Paper)).Append(d.Conversion is null ? "" : "<br/><i>" + Encode(d.Conversion) + "</i>")
                .Append("</td><td>").Append(Encode(RuleText(d))).Append("</td></tr>");
        return html.Append("</tbody></table>").ToString();
    }

    /// <summary>The results table: claim | paper | ours (estimate and interval, n) | verdict.</summary>
    public string ToHtml()
    {
        var html = new StringBuilder($"<table><thead><tr><th>claim</th><th>paper</th><th>rule</th><th>ours ({Confidence:P0} interval, n)</th><th>verdict</th></tr></thead><tbody>");
        foreach (var d in _declared)
        {
            var o = _outcomes.GetValueOrDefault(d.Id);
            html.Append("<tr><td>").Append(Encode(d.Statement)).Append("</td><td>").Append(Encode(d.Paper)).Append("</td><td>").Append(Encode(RuleText(d)))
                .Append("</td><td>").Append(Encode(o is null ? "not judged" : Measured(o))).Append("</td><td><b>")
                .Append(o is null ? "—" : Verdicts.Text(o.Verdict)).Append("</b>")
                .Append(o is null || o.Note.Length == 0 || d.Rule == ClaimRule.Exact ? "" : "<br/>" + Encode(o.Note))
                .Append("</td></tr>");
        }
        return html.Append("</tbody></table>").ToString();
    }

    /// <summary>The outcomes as JSON for the runner: one object per declared claim with rule, estimate, interval, n and verdict.</summary>
    public string ToJson() => JsonSerializer.Serialize(_declared.Select(d =>
    {
        var o = _outcomes.GetValueOrDefault(d.Id);
        return new
        {
            d.Id,
            d.Statement,
            Kind = d.Rule == ClaimRule.Exact ? "exact" : "statistical",
            d.Rule,
            d.Metric,
            d.Unit,
            d.Paper,
            d.PaperEffect,
            d.Margin,
            d.Tolerance,
            d.Ratio,
            Estimate = o?.Estimate,
            Lower = o?.Lower,
            Upper = o?.Upper,
            N = o?.N ?? 0,
            Confidence,
            Verdict = o is null ? "not judged" : Verdicts.Text(o.Verdict),
            Measured = o is null ? null : Measured(o),
            Note = o?.Note,
            Quick,
        };
    }), Json);

    /// <summary>One line per claim.</summary>
    public override string ToString() => string.Join('\n', _declared.Select(d => _outcomes.TryGetValue(d.Id, out var o)
        ? $"[{Verdicts.Text(o.Verdict)}] {d.Statement}: {Measured(o)}{(o.Note.Length == 0 || d.Rule == ClaimRule.Exact ? "" : $" ({o.Note})")}"
        : $"[not judged] {d.Statement}"));

    /// <summary>Throws when a declared claim was never judged or an exact claim failed, naming each.</summary>
    public void Check()
    {
        var unjudged = _declared.Where(d => !_outcomes.ContainsKey(d.Id)).Select(d => d.Id).ToList();
        if (unjudged.Count > 0)
            throw new InvalidOperationException("Declared claims that were never judged: " + string.Join(", ", unjudged));
        var failed = _outcomes.Values.Where(o => o.Declaration.Rule == ClaimRule.Exact && o.Verdict != Verdict.Held).ToList();
        if (failed.Count > 0)
            throw new InvalidOperationException("Exact claims that did not hold: " + string.Join("; ", failed.Select(o => $"{o.Declaration.Statement} ({o.Note})")));
    }

    /// <summary>The estimate and interval as the tables print them: "−0.0123 [−0.0180, −0.0066] nats/char, n = 3".</summary>
    public static string Measured(ClaimOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        var d = outcome.Declaration;
        if (d.Rule == ClaimRule.Exact)
            return outcome.Note;
        if (outcome.Estimate is not { } estimate)
            return "no estimate";
        var unit = d.Unit.Length == 0 ? "" : d.Unit == "×" ? "×" : " " + d.Unit;
        if (outcome.Lower is not { } lower || outcome.Upper is not { } upper)
            return $"{Number(estimate, Math.Abs(estimate) / 10)}{unit}, n = {outcome.N}";
        var width = upper - lower;
        return $"{Number(estimate, width)} [{Number(lower, width)}, {Number(upper, width)}]{unit}, n = {outcome.N}";
    }

    /// <summary>A number with enough decimals to show two significant digits of <paramref name="resolution"/> (an interval's width).</summary>
    public static string Number(double value, double resolution)
    {
        if (!double.IsFinite(value))
            return value.ToString(CultureInfo.InvariantCulture);
        var decimals = resolution > 0 && double.IsFinite(resolution) ? Math.Clamp(1 - (int)Math.Floor(Math.Log10(resolution)), 0, 8) : 4;
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture).Replace('-', '−');
    }

    private ClaimOutcome Evaluate(ClaimDeclaration d, IReadOnlyList<double> effects, string? regime)
    {
        if (d.Rule == ClaimRule.Exact)
            throw new InvalidOperationException($"Claim '{d.Id}' is exact; judge it with JudgeExact.");
        ArgumentNullException.ThrowIfNull(effects);
        if (effects.Any(e => !double.IsFinite(e) || (d.Ratio && e <= 0)))
            throw new ArgumentException($"Claim '{d.Id}': samples must be finite{(d.Ratio ? " and positive (ratios)" : "")}; count failed runs in a claim of their own instead: {string.Join(", ", effects)}.", nameof(effects));
        var n = effects.Count;
        if (n == 0)
            return new ClaimOutcome(d, Verdict.Inconclusive, null, null, null, 0, regime is null ? "no samples" : "regime: " + regime);
        var interval = Interval.Of(effects, d.Ratio, Confidence);
        var (lower, upper) = (interval.Lower, interval.Upper);
        var (verdict, note) = regime is not null ? (Verdict.Inconclusive, "regime: " + regime)
            : Quick ? (Verdict.Reported, "quick mode: reported, not judged")
            : n < MinimumSamples || lower is null ? (Verdict.Inconclusive, $"n = {n} < {MinimumSamples}")
            : Decide(d, d.Ratio ? Math.Log(lower.Value) : lower.Value, d.Ratio ? Math.Log(upper!.Value) : upper!.Value);
        return new ClaimOutcome(d, verdict, interval.Estimate, lower, upper, n, note);
    }

    // Decides on the (log-)scale of the samples.
    private static (Verdict, string) Decide(ClaimDeclaration d, double lower, double upper)
    {
        if (d.Rule == ClaimRule.Equivalence)
        {
            var margin = d.Ratio ? Math.Log(d.Margin!.Value) : d.Margin!.Value;
            if (lower > -margin && upper < margin)
                return (Verdict.Held, "interval inside the margin");
            return lower >= margin || upper <= -margin ? (Verdict.NotReproduced, "interval outside the margin") : (Verdict.Inconclusive, "interval crosses the margin");
        }
        if (d.Rule == ClaimRule.Difference)
        {
            var margin = d.Ratio ? Math.Log(d.Margin!.Value) : d.Margin!.Value;
            if (lower > 0 || upper < 0)
                return (Verdict.Held, lower > 0 ? "interval above 0" : "interval below 0");
            return lower > -margin && upper < margin ? (Verdict.NotReproduced, "interval inside the margin") : (Verdict.Inconclusive, "interval spans 0 and crosses the margin");
        }
        if (d.Rule == ClaimRule.NonInferiority)
        {
            var margin = d.Ratio ? Math.Log(d.Margin!.Value) : d.Margin!.Value;
            if (lower > -margin)
                return (Verdict.Held, lower > 0 ? "interval above −margin, and above 0" : "interval above −margin");
            return upper <= -margin ? (Verdict.NotReproduced, "interval below −margin") : (Verdict.Inconclusive, "interval crosses −margin");
        }
        var paper = d.Ratio ? Math.Log(d.PaperEffect!.Value) : d.PaperEffect!.Value;
        var sign = Math.Sign(paper);
        var (near, far) = sign > 0 ? (lower, upper) : (-upper, -lower);          // in the paper's direction: near ≤ far
        var magnitude = Math.Abs(paper);
        if (near > 0)
            return (Verdict.Held, far < magnitude ? "in the declared direction, smaller than the declared effect" : "in the declared direction");
        if (far < 0)
            return (Verdict.NotReproduced, d.Ratio ? "on the other side of 1" : "opposite sign");
        return far < magnitude ? (Verdict.NotReproduced, "interval excludes the declared effect")
            : (Verdict.Inconclusive, $"interval spans {(d.Ratio ? 1 : 0)} and the declared effect");
    }

    private static string RuleText(ClaimDeclaration d) => d.Rule switch
    {
        ClaimRule.Exact => $"exact: max |Δ| ≤ {d.Tolerance:0.0e+0}",
        ClaimRule.Equivalence => d.Ratio ? $"equivalence: ratio within ×/÷{d.Margin:0.###}" : $"equivalence: |effect| < {d.Margin:0.####} {d.Unit}",
        ClaimRule.Difference => d.Ratio ? $"difference: interval excludes 1, either side (not reproduced within ×/÷{d.Margin:0.###})" : $"difference: interval excludes 0, either sign (not reproduced within ±{d.Margin:0.####} {d.Unit})",
        ClaimRule.NonInferiority => d.Ratio ? $"non-inferiority: ratio above ÷{d.Margin:0.###}" : $"non-inferiority: effect > −{d.Margin:0.####} {d.Unit}",
        _ => d.Ratio ? $"effect: ratio on the side of {d.PaperEffect:0.###}× (declared), interval excludes 1" : $"effect: sign of {d.PaperEffect:+0.####;−0.####} {d.Unit} (declared), interval excludes 0",
    };

    private ClaimsRegister Add(ClaimDeclaration declaration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(declaration.Id);
        if (_declared.Any(d => d.Id == declaration.Id))
            throw new ArgumentException($"Claim '{declaration.Id}' is declared twice.", nameof(declaration));
        _declared.Add(declaration);
        return this;
    }

    private ClaimDeclaration Declaration(string id) => _declared.FirstOrDefault(d => d.Id == id)
        ?? throw new KeyNotFoundException($"Claim '{id}' was not declared; declared: {string.Join(", ", _declared.Select(d => d.Id))}.");

    private ClaimOutcome Record(ClaimOutcome outcome)
    {
        _outcomes[outcome.Declaration.Id] = outcome;   // re-running the judging cell replaces, as re-running any cell does
        return outcome;
    }

    private static string Encode(string s) => WebUtility.HtmlEncode(s);
}
