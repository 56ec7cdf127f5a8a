// SPDX-License-Identifier: MIT
using NormNotebooks.Scaling;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Scaling.SyntheticRuns;

namespace NormNotebooks.Tests.Scaling;

public sealed class LawsTests
{
    // "Recovered to 3 significant digits when noise-free" (STYLE.md, fitters): relative error below 5e-4.
    private const double ThreeDigits = 5e-4;

    public static TheoryData<string> LawNames => ["power", "kaplan-n", "kaplan-nd", "kaplan-ns", "nmt", "loglinear"];

    private static (ScalingLaw Law, double[] Theta, (double, double)[] Ranges) Case(string name) => name switch
    {
        "power" => (new SaturatingPowerLaw(), [Math.Log(120.0), Math.Log(2.1), 0.35], [(1e5, 1e9)]),
        "kaplan-n" => (new KaplanPowerLaw("N"), [0.076 * Math.Log(8.8e13), 0.076], [(1e6, 1e9)]),
        "kaplan-nd" => (new KaplanJointLaw(), [Math.Log(6.4e13), Math.Log(1.8e13), 0.076, 0.103], [(1e6, 1e9), (1e8, 1e11)]),
        "kaplan-ns" => (new KaplanStepsLaw(), [0.077 * Math.Log(6.5e13), 0.077, 0.76 * Math.Log(2.1e3), 0.76], [(1e6, 1e9), (1e2, 1e5)]),
        "nmt" => (new NmtLaw(1e7, 1e7), [Math.Log(0.8), 0.25, 0.4, Math.Log(1.2)], [(1e6, 1e8), (1e6, 1e8)]),
        "loglinear" => (new LogLinearLaw("N", "D"), [Math.Log(1.79), -0.713, 0.307], [(1e6, 1e9), (1e8, 1e11)]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(LawNames))]
    public void EachLaw_NoiseFree_IsRecoveredToThreeDigits(string name)
    {
        var (law, theta, ranges) = Case(name);
        var data = Generate(law, theta, 80, noise: 0, seed: 21, ranges);
        var fit = ScalingFitter.Fit(law, data);
        Assert.True(fit.Converged, fit.ExitReason);
        foreach (var quantity in law.Reported)
        {
            var expected = quantity.Value(theta);
            var actual = fit[quantity.Name].Value;
            Assert.True(Math.Abs(actual - expected) <= ThreeDigits * Math.Abs(expected), $"{name} {quantity.Name}: expected {expected:G6}, got {actual:G6}");
        }
    }

    [Theory]
    [MemberData(nameof(LawNames))]
    public void EachLaw_WithNoise_HasTheTruthInsideItsIntervals(string name)
    {
        var (law, theta, ranges) = Case(name);
        var data = Generate(law, theta, 80, noise: 0.01, seed: 22, ranges);
        var fit = ScalingFitter.Fit(law, data, new FitOptions { Bootstrap = 200, Seed = 3, Level = 0.99 });
        foreach (var quantity in law.Reported)
        {
            var estimate = fit[quantity.Name];
            var truth = quantity.Value(theta);
            Assert.True(estimate.Lower <= truth && truth <= estimate.Upper, $"{name} {quantity.Name}: truth {truth:G5} outside [{estimate.Lower:G5}, {estimate.Upper:G5}]");
        }
    }

    [Fact]
    public void Gradients_MatchCentralDifferences_ForEveryLaw()
    {
        foreach (var name in LawNames)
        {
            var (law, theta, ranges) = Case(name);
            var logX = ranges.Select(r => Math.Log(Math.Sqrt(r.Item1 * r.Item2)) + 0.3).ToArray();
            var analytic = new double[theta.Length];
            law.LogPredict(theta, logX, analytic);
            var scratch = new double[theta.Length];
            for (var k = 0; k < theta.Length; k++)
            {
                var plus = (double[])theta.Clone();
                var minus = (double[])theta.Clone();
                plus[k] += GradCheck.Step;
                minus[k] -= GradCheck.Step;
                var numeric = (law.LogPredict(plus, logX, scratch) - law.LogPredict(minus, logX, scratch)) / (2 * GradCheck.Step);
                Assert.True(Math.Abs(numeric - analytic[k]) <= GradCheck.Atol + GradCheck.Rtol * Math.Abs(numeric), $"{name} ∂/∂{law.ParameterNames[k]}: analytic {analytic[k]:G8}, numeric {numeric:G8}");
            }
        }
    }

    [Fact]
    public void Nmt_EncoderShare_IsTheExponentRatio()
    {
        var law = new NmtLaw(1e7, 1e7);
        Assert.Equal(0.4 / (0.4 + 0.6), law.Derived.Single().Value([0, 0.4, 0.6, 0]), Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void CriticalBatch_FromRuns_RecoversSMinAndEMin()
    {
        const double sMin = 2_000, eMin = 4e6;   // B_crit = 2,000 tokens
        var batches = new[] { 250.0, 500, 1000, 2000, 4000, 8000, 16000 };
        // Each run satisfies S_min/S + E_min/E = 1 with E = B·S: S = S_min + E_min/B.
        var steps = batches.Select(b => sMin + eMin / b).ToList();
        var examples = batches.Select((b, i) => b * steps[i]).ToList();
        var (s, e, bCrit) = CriticalBatch.FromRuns(steps, examples);
        // Noise-free runs: the fit is exact up to rounding (measured 1.2e-16 relative), so closed-form accuracy, relative to each value.
        Assert.Equal(sMin, s, sMin * Tolerances.ClosedForm);
        Assert.Equal(eMin, e, eMin * Tolerances.ClosedForm);
        Assert.Equal(2000, bCrit, 2000 * Tolerances.ClosedForm);
        Assert.Equal(1000.0 / (1 + 2000.0 / 500), CriticalBatch.MinimumSteps(1000, 500, 2000), Tolerances.ClosedFormDecimals);
        var atLoss = 2e8 / Math.Pow(2.0, 1 / 0.21);
        Assert.Equal(atLoss, CriticalBatch.At(2.0, 2e8, 0.21), atLoss * Tolerances.ClosedForm);
    }

    [Fact]
    public void Registry_NamesEveryForm_AndEachLawCarriesItsName()
    {
        foreach (var name in ScalingLaws.Names)
            Assert.Equal(name, ScalingLaws.Create(name, ["N", "D"]).Name);
        Assert.Equal(["N", "D"], ScalingLaws.Create("loglinear", ["N", "D"]).Variables);
        Assert.Contains("use one of chinchilla, kaplan-n", Assert.Throws<ArgumentException>(() => ScalingLaws.Create("kaplan")).Message);
        Assert.Contains("needs its variables", Assert.Throws<ArgumentException>(() => ScalingLaws.Create("loglinear")).Message);
    }

    [Fact]
    public void Registry_ReferencesTheNmtLawToTheDataGeometricMeans_AndLeavesOtherLawsAlone()
    {
        var data = new ScalingData(["Ne", "Nd"], [[1e6, 1e4], [1e8, 1e6]], [2.0, 1.5]);
        var nmt = Assert.IsType<NmtLaw>(ScalingLaws.ReferencedTo(ScalingLaws.Create("nmt"), data));
        Assert.Equal(1e7, nmt.ReferenceEncoder, 1e7 * Tolerances.ClosedForm);   // exp of a mean of two logs
        Assert.Equal(1e5, nmt.ReferenceDecoder, 1e5 * Tolerances.ClosedForm);
        var power = ScalingLaws.Create("power");
        Assert.Same(power, ScalingLaws.ReferencedTo(power, data));
    }
}
