// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class TestTimeNormTests
{
    private static BatchNorm TrainedSource(long channels = 4)
    {
        var source = new BatchNorm(channels, dtype: ScalarType.Float64);
        using (no_grad())
        {
            source.Weight!.copy_(Inputs.Random([channels], ScalarType.Float64, seed: 2));
            source.Bias!.copy_(Inputs.Random([channels], ScalarType.Float64, seed: 3));
        }
        for (var i = 0; i < 10; i++)
            source.forward(Inputs.Random([8, channels, 5, 5], ScalarType.Float64, seed: 70 + i));
        source.eval();
        return source;
    }

    [Fact]
    public void AlphaBn_AtZeroIsTheSourceModel_AtOneIsTrainModeBn_AndNeverTouchesTheBuffers()
    {
        using var scope = NewDisposeScope();
        var source = TrainedSource();
        var mean = source.RunningMean.clone();
        var x = Inputs.Random([6, 4, 5, 5], ScalarType.Float64, seed: 90, mean: 3, scale: 2);   // shifted test data
        Tolerances.AssertClose(source.forward(x), new TestTimeBatchNorm(source, alpha: 0).forward(x), Tolerances.Float64, what: "α = 0");
        var trainMode = nn.functional.batch_norm(x, null, null, source.Weight!.detach(), source.Bias!.detach(), training: true);
        Tolerances.AssertClose(trainMode, new TestTimeBatchNorm(source, alpha: 1, unbiasedTestVariance: false).forward(x), Tolerances.Float64, what: "α = 1");

        var mixed = new TestTimeBatchNorm(source, alpha: 0.1).forward(x);
        var (testVar, testMean) = var_mean(x, [0L, 2L, 3L], unbiased: true);
        var mu = 0.9 * source.RunningMean + 0.1 * testMean;
        var sigma2 = 0.9 * source.RunningVar + 0.1 * testVar;
        var expected = (x - mu.view(1, 4, 1, 1)) / (sigma2.view(1, 4, 1, 1) + 1e-5).sqrt() * source.Weight!.view(1, 4, 1, 1) + source.Bias!.view(1, 4, 1, 1);
        Tolerances.AssertClose(expected, mixed, Tolerances.Float64, what: "α = 0.1 convex combination");
        Tolerances.AssertClose(mean, source.RunningMean, Tolerances.Exact, what: "source buffers unchanged");
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(1.0)]
    public void AlphaBn_GradientTreatsTheTestStatisticsAsConstants(double alpha)
    {
        // BayesianBatchNorm (bethgelab/robustness) reads μ_t, σ²_t from BatchNorm buffers written outside autograd, so
        // ∂L/∂x = ∂L/∂y · γ/√(σ² + ε) with μ, σ² the mixed constants: no path through the batch mean or variance.
        using var scope = NewDisposeScope();
        var source = TrainedSource();
        var x = Inputs.Random([6, 4, 5, 3], ScalarType.Float64, seed: 91, mean: 3, scale: 2).requires_grad_();
        var probe = Inputs.Random([6, 4, 5, 3], ScalarType.Float64, seed: 92);
        var output = new TestTimeBatchNorm(source, alpha).forward(x);
        var grad = autograd.grad([(output * probe).sum()], [x])[0];

        var testVar = x.detach().var([0L, 2L, 3L], unbiased: true);
        var sigma2 = (1 - alpha) * source.RunningVar + alpha * testVar;
        var expected = probe * (source.Weight!.detach() / (sigma2 + 1e-5).sqrt()).view(1, 4, 1, 1);
        Tolerances.AssertClose(expected, grad, Tolerances.Float64, what: $"∂L/∂x at α = {alpha}");
    }

    [Fact]
    public void UnMix_InitialComponents_KeepTheSourceMomentsInExpectation()
    {
        using var scope = NewDisposeScope();
        var source = TrainedSource();
        const int components = 20_000;
        const double spread = 0.5;   // UnMixTns's default α
        var unmix = new UnMixTns(source, components: components, seed: 7);
        // Seeded, so each channel must lie within Tolerances.StandardErrors of its expectation: mean_k M_k = μ_s + √(αK/(K − 1))·σ_s·mean_k ξ_k
        // has standard error √(α/(K − 1))·σ_s, and the biased variance of M over K normal draws one of ασ²_s·√(2/K).
        var meanError = source.RunningVar.sqrt() * Math.Sqrt(spread / (components - 1));
        var meanDistance = ((unmix.ComponentMeans.mean([0L]) - source.RunningMean).abs() / meanError).max().item<double>();
        Assert.True(meanDistance <= Tolerances.StandardErrors, $"mean over components of M is {meanDistance:F2} standard errors from μ_s");
        var total = unmix.ComponentVars.mean([0L]) + unmix.ComponentMeans.var([0L], unbiased: false);
        var varianceError = source.RunningVar * spread * Math.Sqrt(2.0 / components);
        var varianceDistance = ((total - source.RunningVar).abs() / varianceError).max().item<double>();
        Assert.True(varianceDistance <= Tolerances.StandardErrors, $"mean V + var M is {varianceDistance:F2} standard errors from σ²_s");
    }

    [Fact]
    public void UnMix_MixingRule_ReducesToTheMixtureOrToInstanceStatistics()
    {
        using var scope = NewDisposeScope();
        var means = Inputs.Random([3, 4], ScalarType.Float64, seed: 1);
        var vars = Inputs.Random([3, 4], ScalarType.Float64, seed: 2).abs();
        var instanceMean = Inputs.Random([5, 4], ScalarType.Float64, seed: 3);
        var instanceVar = Inputs.Random([5, 4], ScalarType.Float64, seed: 4).abs();

        var (mean0, var0) = UnMixTns.Mix(instanceMean, instanceVar, means, vars, zeros(5, 3, dtype: float64));
        Tolerances.AssertClose(means.mean([0L]).expand(5, 4), mean0, Tolerances.Float64, what: "p = 0: mixture mean");
        Tolerances.AssertClose((vars.mean([0L]) + means.var([0L], unbiased: false)).expand(5, 4), var0, Tolerances.Float64, what: "p = 0: mixture variance");
        var (mean1, var1) = UnMixTns.Mix(instanceMean, instanceVar, means, vars, ones(5, 3, dtype: float64));
        Tolerances.AssertClose(instanceMean, mean1, Tolerances.Float64, what: "p = 1: instance mean");
        Tolerances.AssertClose(instanceVar, var1, Tolerances.Float64, what: "p = 1: instance variance");
    }

    [Fact]
    public void UnMix_Momentum_AndUpdatesAfterTheOutput()
    {
        using var scope = NewDisposeScope();
        var source = TrainedSource();
        var unmix = new UnMixTns(source, components: 4, seed: 1);
        Assert.Equal(0.1, unmix.MomentumFor(64), Tolerances.ClosedFormDecimals);
        Assert.Equal(1 - Math.Pow(0.9, 0.25), unmix.MomentumFor(16), Tolerances.ClosedFormDecimals);

        var x = Inputs.Random([6, 4, 5, 5], ScalarType.Float64, seed: 91);
        var before = unmix.ComponentMeans.clone();
        var output = unmix.forward(x);
        var replay = new UnMixTns(source, components: 4, seed: 1);   // same components as `before`
        Tolerances.AssertClose(before, replay.ComponentMeans, Tolerances.Exact);
        Tolerances.AssertClose(replay.forward(x), output, Tolerances.Float64, what: "the output of a call uses the components from before it");
        Assert.True((unmix.ComponentMeans - before).abs().max().item<double>() > 0, "the components moved after the call");
    }
}
