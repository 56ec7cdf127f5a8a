// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Reporting;
using NormNotebooks.Tests.Support;

namespace NormNotebooks.Tests.Reporting;

public sealed class ClaimsRegisterTests
{
    private static ClaimsRegister Declared(bool quick = false) => new ClaimsRegister(quick)
        .DeclareEffect("lower", "the method lowers the loss", "loss, method − baseline", "nats/char", -0.05, "−0.05 nats (Table 1)")
        .DeclareEquivalence("same", "the method matches the baseline", "loss, method − baseline", "nats/char", 0.02, "≈ (Table 2)")
        .DeclareEffect("faster", "the method is faster", "time, method / baseline", "×", 0.9, "10% faster (§5)", ratio: true)
        .DeclareExact("identity", "folded equals unfolded", "max |Δ|", 1e-6, "exact");

    [Fact]
    public void Interval_IsTheStudentTInterval_OfThePairedDifferences()
    {
        // Differences −0.03, −0.02, −0.04: mean −0.03, sd 0.01, t(0.975, 2) = 4.302653: half-width 0.0248414.
        var outcome = Declared().JudgePaired("lower", [2.97, 2.98, 2.96], [3.0, 3.0, 3.0]);
        Assert.Equal(-0.03, outcome.Estimate!.Value, Tolerances.ClosedFormDecimals);
        // The t quantile's accuracy (Tolerances.StudentTQuantile, relative, on 4.3) times s/√n = 0.0058 bounds the bounds' error.
        Assert.Equal(-0.03 - 4.302652729749464 * 0.01 / Math.Sqrt(3), outcome.Lower!.Value, Tolerances.StudentTQuantile);
        Assert.Equal(-0.03 + 4.302652729749464 * 0.01 / Math.Sqrt(3), outcome.Upper!.Value, Tolerances.StudentTQuantile);
        Assert.Equal(Verdict.Held, outcome.Verdict);                        // upper −0.0052 < 0
        Assert.Equal(3, outcome.N);
    }

    [Theory]
    [InlineData(new[] { -0.030, -0.020, -0.040 }, Verdict.Held)]                 // excludes 0 in the paper's direction
    [InlineData(new[] { 0.020, 0.030, 0.025 }, Verdict.NotReproduced)]           // opposite sign
    [InlineData(new[] { -0.004, 0.003, 0.000 }, Verdict.NotReproduced)]          // tight around 0: excludes the paper's −0.05
    [InlineData(new[] { -0.100, 0.050, -0.020 }, Verdict.Inconclusive)]          // spans 0 and −0.05
    public void EffectRule_GivesHeldNotReproducedOrInconclusive(double[] differences, Verdict expected) =>
        Assert.Equal(expected, Declared().Judge("lower", differences).Verdict);

    [Theory]
    [InlineData(new[] { 0.001, -0.002, 0.0005 }, Verdict.Held)]
    [InlineData(new[] { 0.050, 0.060, 0.055 }, Verdict.NotReproduced)]
    [InlineData(new[] { 0.000, 0.030, 0.010 }, Verdict.Inconclusive)]
    public void EquivalenceRule_ComparesTheIntervalWithTheMargin(double[] differences, Verdict expected) =>
        Assert.Equal(expected, Declared().Judge("same", differences).Verdict);

    [Theory]
    [InlineData(new[] { 0.5, 1.5, 1.0 }, Verdict.Held)]                 // better than the baseline: held (no upper bound)
    [InlineData(new[] { -0.2, 0.1, -0.05 }, Verdict.Held)]              // within the margin below 0
    [InlineData(new[] { -2.0, -1.6, -1.8 }, Verdict.NotReproduced)]     // the whole interval below −margin
    [InlineData(new[] { -1.5, 0.5, -0.5 }, Verdict.Inconclusive)]       // crosses −margin
    public void NonInferiorityRule_HoldsAboveMinusTheMargin_WhateverTheUpperEnd(double[] differences, Verdict expected) =>
        Assert.Equal(expected, new ClaimsRegister(false)
            .DeclareNonInferiority("no-worse", "matches or outperforms", "accuracy, method − baseline", "points", 1.0, "abstract")
            .Judge("no-worse", differences).Verdict);

    [Fact]
    public void NonInferiority_OnRatios_UsesTheLogScale_AndStatesItsRule()
    {
        var register = new ClaimsRegister(false)
            .DeclareNonInferiority("ratio", "no slower", "throughput, method / baseline", "×", 1.1, "§5", ratio: true);
        Assert.Equal(Verdict.Held, register.Judge("ratio", [0.97, 1.0, 0.99]).Verdict);              // above 1/1.1 = 0.909
        Assert.Equal(Verdict.NotReproduced, register.Judge("ratio", [0.80, 0.82, 0.81]).Verdict);
        Assert.Contains("non-inferiority: ratio above", register.DeclarationsHtml());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClaimsRegister(false).DeclareNonInferiority("x", "s", "m", "×", 0.9, "p", ratio: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClaimsRegister(false).DeclareNonInferiority("x", "s", "m", "points", 0, "p"));
        Assert.Contains("\"rule\":\"non-inferiority\"", register.ToJson());
    }

    [Fact]
    public void RatioClaims_AreJudgedOnTheLogScale_AndReportedAsRatios()
    {
        var register = Declared();
        var outcome = register.JudgePaired("faster", [0.8, 0.9, 0.85], [1.0, 1.0, 1.0]);
        Assert.Equal(Math.Exp((Math.Log(0.8) + Math.Log(0.9) + Math.Log(0.85)) / 3), outcome.Estimate!.Value, Tolerances.ClosedFormDecimals);
        Assert.Equal(Verdict.Held, outcome.Verdict);
        Assert.Equal(Verdict.NotReproduced, Declared().Judge("faster", [1.10, 1.12, 1.11]).Verdict);
        Assert.Equal("on the other side of 1", Declared().Judge("faster", [1.10, 1.12, 1.11]).Note);
        Assert.Equal("interval spans 1 and the declared effect", Declared().Judge("faster", [0.7, 1.2, 0.95]).Note);
        Assert.Equal("interval spans 0 and the declared effect", Declared().Judge("lower", [-0.100, 0.050, -0.020]).Note);
        Assert.Contains("×", ClaimsRegister.Measured(outcome));
    }

    [Fact]
    public void FewSamples_QuickMode_AndOutOfRegime_AreNeverHeld()
    {
        Assert.Equal(Verdict.Inconclusive, Declared().Judge("lower", [-0.5, -0.6]).Verdict);              // n = 2 < 3
        Assert.Equal(Verdict.Inconclusive, Declared().Judge("lower", [-0.5]).Verdict);                    // no interval at all
        var quick = Declared(quick: true).Judge("lower", [-0.03, -0.02, -0.04]);
        Assert.Equal(Verdict.Reported, quick.Verdict);
        Assert.NotNull(quick.Lower);                                                                      // still shown with its interval
        var regime = Declared().JudgeOutOfRegime("lower", "baseline above the trigram loss", [-0.03, -0.02, -0.04]);
        Assert.Equal(Verdict.Inconclusive, regime.Verdict);
        Assert.Contains("trigram", regime.Note);
    }

    [Fact]
    public void BadSamples_AndUndeclaredOrMismatchedClaims_AreErrorsNamingTheClaim()
    {
        var register = Declared();
        Assert.Contains("'lower'", Assert.Throws<ArgumentException>(() => register.Judge("lower", [0.1, double.NaN, 0.2])).Message);
        Assert.Contains("'nope'", Assert.Throws<KeyNotFoundException>(() => register.Judge("nope", [1, 2, 3])).Message);
        Assert.Contains("must pair", Assert.Throws<ArgumentException>(() => register.JudgePaired("lower", [1, 2, 3], [1, 2])).Message);
        Assert.Throws<InvalidOperationException>(() => register.Judge("identity", [0, 0, 0]));
        Assert.Throws<ArgumentException>(() => register.DeclareExact("lower", "again", "x", 1, "p"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClaimsRegister(false).DeclareEffect("zero", "s", "m", "u", 0, "p"));
    }

    [Fact]
    public void Check_Fails_OnAnUnjudgedClaim_AndOnAFailedIdentity_InBothModes()
    {
        var register = Declared(quick: true);
        register.Judge("lower", [-0.03, -0.02, -0.04]);
        register.Judge("same", [0, 0.001, 0.002]);
        register.Judge("faster", [0.8, 0.9, 0.85]);
        Assert.Contains("identity", Assert.Throws<InvalidOperationException>(register.Check).Message);
        register.JudgeExact("identity", 1e-3);
        Assert.Contains("folded equals unfolded", Assert.Throws<InvalidOperationException>(register.Check).Message);
        register.JudgeExact("identity", 1e-8);
        register.Check();
    }

    [Fact]
    public void Json_CarriesRuleEstimateIntervalNAndVerdict_AndHtmlHasThePaperColumn()
    {
        var register = Declared();
        register.JudgePaired("lower", [2.97, 2.98, 2.96], [3.0, 3.0, 3.0]);
        register.JudgeExact("identity", 2e-7);
        var json = JsonNode.Parse(register.ToJson())!.AsArray();
        Assert.Equal(4, json.Count);
        var lower = json[0]!;
        Assert.Equal("effect", (string)lower["rule"]!);
        Assert.Equal("statistical", (string)lower["kind"]!);
        Assert.Equal(3, (int)lower["n"]!);
        Assert.True((double)lower["lower"]! < (double)lower["estimate"]! && (double)lower["estimate"]! < (double)lower["upper"]!);
        Assert.Equal("held", (string)lower["verdict"]!);
        Assert.Equal("not judged", (string)json[1]!["verdict"]!);
        Assert.Equal("exact", (string)json[3]!["kind"]!);
        var html = register.ToHtml();
        Assert.Contains("−0.05 nats (Table 1)", html);
        Assert.Contains("−0.030 [−0.055, −0.005] nats/char, n = 3", System.Net.WebUtility.HtmlDecode(html));
        Assert.Contains("equivalence: |effect| &lt; 0.02 nats/char", register.DeclarationsHtml());
    }

    [Theory]
    [InlineData(-0.0123, 0.0114, "−0.012")]
    [InlineData(1.2345, 0.5, "1.23")]
    [InlineData(1234.4, 200, "1234")]
    public void Numbers_ShowTwoSignificantDigitsOfTheIntervalWidth(double value, double width, string expected) =>
        Assert.Equal(expected, ClaimsRegister.Number(value, width));

    [Theory]
    [InlineData(0.46, 0.42, 0.55, Verdict.Held)]            // inside 0.5 ± 0.1
    [InlineData(0.75, 0.65, 0.85, Verdict.NotReproduced)]   // wholly beyond the margin
    [InlineData(0.50, 0.30, 0.70, Verdict.Inconclusive)]    // crosses it
    public void JudgeInterval_AppliesTheDeclaredRule_ToAGivenInterval(double estimate, double lower, double upper, Verdict expected)
    {
        var register = new ClaimsRegister(false)
            .DeclareEquivalence("a", "N's share of compute is one half", "a − 0.5", "", 0.1, "a = 0.50 (approach 1)");
        var outcome = register.JudgeInterval("a", estimate - 0.5, lower - 0.5, upper - 0.5, 40, "bootstrap over 40 runs");
        Assert.Equal(expected, outcome.Verdict);
        Assert.Equal(40, outcome.N);
        Assert.EndsWith("bootstrap over 40 runs", outcome.Note);
        Assert.Equal(lower - 0.5, outcome.Lower);
    }

    [Fact]
    public void JudgeInterval_OnRatios_DecidesOnTheLogScale_ReportsInQuickMode_AndRefusesBadIntervals()
    {
        var full = new ClaimsRegister(false)
            .DeclareEquivalence("predict", "the law predicts the held-out loss", "observed / predicted", "×", 1.02, "§4", ratio: true);
        Assert.Equal(Verdict.Held, full.JudgeInterval("predict", 1.0, 0.985, 1.015, 3, "bootstrap").Verdict);
        Assert.Equal(Verdict.NotReproduced, full.JudgeInterval("predict", 1.05, 1.03, 1.07, 3, "bootstrap").Verdict);
        Assert.Equal(Verdict.Inconclusive, full.JudgeInterval("predict", 1.0, 0.99, 1.01, 2, "bootstrap").Verdict);   // n < 3
        Assert.Throws<ArgumentException>(() => full.JudgeInterval("predict", 1.0, 1.01, 0.99, 3, "bootstrap"));
        Assert.Throws<ArgumentException>(() => full.JudgeInterval("predict", 1.0, 0.0, 1.01, 3, "bootstrap"));
        Assert.Throws<InvalidOperationException>(() => Declared().JudgeInterval("identity", 0, 0, 0, 3, "bootstrap"));
        var quick = new ClaimsRegister(true)
            .DeclareEquivalence("predict", "the law predicts the held-out loss", "observed / predicted", "×", 1.02, "§4", ratio: true);
        Assert.Equal(Verdict.Reported, quick.JudgeInterval("predict", 1.0, 0.985, 1.015, 3, "bootstrap").Verdict);
    }

    [Theory]
    [InlineData(0.10, 0.04, 0.16, Verdict.Held)]            // excludes 0 above
    [InlineData(-0.10, -0.16, -0.04, Verdict.Held)]         // excludes 0 below: either sign holds
    [InlineData(0.00, -0.02, 0.02, Verdict.NotReproduced)]  // inside ±0.03: no difference worth the name
    [InlineData(0.02, -0.02, 0.06, Verdict.Inconclusive)]   // spans 0 and crosses the margin
    public void Difference_HoldsOnEitherSide_AndFailsOnlyInsideTheMargin(double estimate, double lower, double upper, Verdict expected)
    {
        var register = new ClaimsRegister(false)
            .DeclareDifference("differ", "the encoder and decoder exponents differ", "p_e − p_d", "", 0.03, "§3, sign not claimed");
        var outcome = register.JudgeInterval("differ", estimate, lower, upper, 21, "bootstrap");
        Assert.Equal(expected, outcome.Verdict);
        Assert.Contains("either sign", register.DeclarationsHtml());
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClaimsRegister(false).DeclareDifference("r", "s", "m", "", 1.0, "p", ratio: true));
    }
}
