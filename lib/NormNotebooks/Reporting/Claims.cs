// SPDX-License-Identifier: MIT
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NormNotebooks.Reporting;

/// <summary>Whether a claim is an identity that must hold at any size, or a statistical finding that needs the full run.</summary>
public enum ClaimKind
{
    /// <summary>An exact identity (up to float tolerance): must hold in quick and full mode.</summary>
    Exact,

    /// <summary>A measured effect: judged in full mode, only reported in quick mode.</summary>
    Statistical,
}

/// <summary>The outcome of a claim at our scale.</summary>
public enum Verdict
{
    /// <summary>The claim held.</summary>
    Held,

    /// <summary>Part of the claim held (the note says which).</summary>
    Partly,

    /// <summary>The claim did not reproduce at our scale.</summary>
    NotReproduced,

    /// <summary>Quick mode: measured and shown, not judged (sizes too small).</summary>
    Reported,

    /// <summary>The interval cannot tell the paper's effect from none (or the experiment is outside the claim's regime).</summary>
    Inconclusive,
}

/// <summary>One claim of a paper, as measured by a notebook.</summary>
/// <param name="Statement">The claim in our words, e.g. "Pre-RMSNorm logits equal Pre-LN logits within 1e-4".</param>
/// <param name="Kind">Exact or statistical.</param>
/// <param name="Verdict">Held, partly, not reproduced, or reported (quick mode).</param>
/// <param name="Measured">What we measured, with numbers: "max |Δ| = 3.1e-6".</param>
/// <param name="Paper">What the paper reports, if it reports a number.</param>
public sealed record Claim(string Statement, ClaimKind Kind, Verdict Verdict, string Measured, string? Paper = null);

/// <summary>
/// A notebook's claims, computed from its run. Displayed as an HTML table for readers and as JSON under <see cref="MimeType"/> for
/// <c>normnb run</c>, which copies it into the run summary. <see cref="Check"/> fails the cell when an exact claim does not hold.
/// </summary>
public sealed class ClaimsTable(bool quick)
{
    /// <summary>MIME type of the machine-readable claims (the runner reads it).</summary>
    public const string MimeType = "application/vnd.normnotebooks.claims+json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    private readonly List<Claim> _claims = [];

    /// <summary>Whether the notebook ran in quick mode.</summary>
    public bool Quick { get; } = quick;

    /// <summary>The claims so far.</summary>
    public IReadOnlyList<Claim> Claims => _claims;

    /// <summary>An exact identity: held when <paramref name="holds"/>.</summary>
    public ClaimsTable Exact(string statement, bool holds, string measured, string? paper = null)
    {
        _claims.Add(new Claim(statement, ClaimKind.Exact, holds ? Verdict.Held : Verdict.NotReproduced, measured, paper));
        return this;
    }

    /// <summary>A statistical claim with its full-mode verdict; in quick mode it is recorded as <see cref="Verdict.Reported"/>.</summary>
    public ClaimsTable Statistical(string statement, Verdict fullModeVerdict, string measured, string? paper = null)
    {
        _claims.Add(new Claim(statement, ClaimKind.Statistical, Quick ? Verdict.Reported : fullModeVerdict, measured, paper));
        return this;
    }

    /// <summary>A statistical claim judged held/not reproduced by <paramref name="holds"/> (see <see cref="Statistical(string, Verdict, string, string?)"/>).</summary>
    public ClaimsTable Statistical(string statement, bool holds, string measured, string? paper = null) =>
        Statistical(statement, holds ? Verdict.Held : Verdict.NotReproduced, measured, paper);

    /// <summary>The claims as a JSON array (statement, kind, verdict, measured, paper, quick).</summary>
    public string ToJson() => JsonSerializer.Serialize(_claims.Select(c => new
    {
        c.Statement,
        c.Kind,
        c.Verdict,
        c.Measured,
        c.Paper,
        Quick,
    }), Json);

    /// <summary>The claims as an HTML table.</summary>
    public string ToHtml()
    {
        var html = new StringBuilder("<table><thead><tr><th>claim</th><th>kind</th><th>paper</th><th>ours</th><th>verdict</th></tr></thead><tbody>");
        foreach (var c in _claims)
            html.Append("<tr><td>").Append(WebUtility.HtmlEncode(c.Statement)).Append("</td><td>").Append(c.Kind.ToString().ToLowerInvariant())
                .Append("</td><td>").Append(WebUtility.HtmlEncode(c.Paper ?? "")).Append("</td><td>").Append(WebUtility.HtmlEncode(c.Measured))
                .Append("</td><td><b>").Append(VerdictText(c.Verdict)).Append("</b></td></tr>");
        return html.Append("</tbody></table>").ToString();
    }

    /// <summary>Plain-text lines, one per claim.</summary>
    public override string ToString() => string.Join('\n', _claims.Select(c => $"[{VerdictText(c.Verdict)}] {c.Statement}: {c.Measured}"));

    /// <summary>Throws when an exact claim did not hold (so the notebook, and CI, fail), naming each.</summary>
    public void Check()
    {
        var failed = _claims.Where(c => c.Kind == ClaimKind.Exact && c.Verdict != Verdict.Held).ToList();
        if (failed.Count > 0)
            throw new InvalidOperationException("Exact claims that did not hold: " + string.Join("; ", failed.Select(c => $"{c.Statement} ({c.Measured})")));
    }

    /// <summary>"held", "partly", "not reproduced" or "reported".</summary>
    public static string VerdictText(Verdict verdict) => verdict switch
    {
        Verdict.Held => "held",
        Verdict.Partly => "partly",
        Verdict.NotReproduced => "not reproduced",
        Verdict.Inconclusive => "inconclusive",
        _ => "reported",
    };
}
