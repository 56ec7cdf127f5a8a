// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Training;

/// <summary>Single steps of the written-out optimizers against values worked out by hand (in the comments).</summary>
public sealed class OptimizerTests
{
    private static Parameter Weight(double[,] values) => new(tensor(values, dtype: float64));

    private static double[] Values(Tensor t) => t.detach().flatten().data<double>().ToArray();

    private static void Near(double[] expected, Tensor actual, int digits)
    {
        var values = Values(actual);
        Assert.Equal(expected.Length, values.Length);
        for (var i = 0; i < values.Length; i++)
            Assert.True(Math.Abs(expected[i] - values[i]) < Math.Pow(10, -digits), $"element {i}: expected {expected[i]:R}, got {values[i]:R}");
    }

    private static void Step(IStepOptimizer optimizer, Parameter w, double[,] gradient, double rate)
    {
        optimizer.ZeroGrad();
        w.grad = tensor(gradient, dtype: float64);
        optimizer.Step(rate);
    }

    private static TrainingConfig Config(OptimizerKind kind, double decay = 0, double beta1 = 0.9) =>
        new(1, WeightDecay: decay, Beta1: beta1, Beta2: 0.999, Optimizer: kind);

    [Fact]
    public void Sgd_HeavyBallMomentum_WithCoupledDecay()
    {
        var w = Weight(new double[,] { { 1, 2 } });
        using var sgd = Optimizers.Create([w], Config(OptimizerKind.Sgd, decay: 0.5));
        // step 1: g' = g + 0.5w = [0.5+0.5, 1+1] = [1, 2]; v = g'; w = [1, 2] − 0.1·[1, 2] = [0.9, 1.8]
        Step(sgd, w, new double[,] { { 0.5, 1 } }, 0.1);
        Near([0.9, 1.8], w, Tolerances.ClosedFormDecimals);
        // step 2: g' = [0, 0] + 0.5·[0.9, 1.8] = [0.45, 0.9]; v = 0.9·[1, 2] + g' = [1.35, 2.7]; w = [0.9, 1.8] − 0.1·v = [0.765, 1.53]
        Step(sgd, w, new double[,] { { 0, 0 } }, 0.1);
        Near([0.765, 1.53], w, Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void SgdP_ProjectsOutTheRadialPart_AndShrinksDecay_WhenTheGradientIsNearlyOrthogonal()
    {
        var w = Weight(new double[,] { { 1, 0 }, { 0, 1 } });
        using var sgdp = Optimizers.Create([w], Config(OptimizerKind.SgdP, decay: 0.01));
        // per-row |cos(g, w)| = 0.05/√1.0025 ≈ 0.0499 < δ/√2 ≈ 0.0707 → project: rows lose their 0.05 along w; decay ratio 0.1.
        // v = g (zero start); decay factor 1 − 0.1·0.01·0.1/(1 − 0.9) = 0.999; w = 0.999·I − 0.1·[[0, 1], [1, 0]]
        Step(sgdp, w, new double[,] { { 0.05, 1 }, { 1, 0.05 } }, 0.1);
        Near([0.999, -0.1, -0.1, 0.999], w, 9);   // ε = 1e-8 in ‖w‖ + ε leaves ~1e-10
    }

    [Fact]
    public void SgdP_LeavesAlignedGradientsAlone()
    {
        var w = Weight(new double[,] { { 1, 0 }, { 0, 1 } });
        using var sgdp = Optimizers.Create([w], Config(OptimizerKind.SgdP, decay: 0.01));
        // rows: cos = 1/√2 ≥ 0.0707; whole tensor: cos = 2/(√2·2) ≥ δ/√4 → no projection, full decay 1 − 0.1·0.01/0.1 = 0.99
        Step(sgdp, w, new double[,] { { 1, 1 }, { 1, 1 } }, 0.1);
        Near([0.89, -0.1, -0.1, 0.89], w, Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void AdamP_FirstStep_IsSignLike_AndProjected()
    {
        var w = Weight(new double[,] { { 1, 0 }, { 0, 1 } });
        using var adamp = Optimizers.Create([w], Config(OptimizerKind.AdamP, decay: 0.1));
        // step 1: m̂/(√v̂ + ε) = g/(|g| + ε) ≈ sign(g) elementwise: rows [1, 1]; projection removes the part along w per row:
        // row 0 w = [1, 0] → [0, 1]; decay ratio 0.1: factor 1 − 0.01·0.1·0.1 = 0.9999; w = 0.9999·I − 0.01·[[0, 1], [1, 0]]
        Step(adamp, w, new double[,] { { 0.05, 1 }, { 1, 0.05 } }, 0.01);
        Near([0.9999, -0.01, -0.01, 0.9999], w, 6);   // Adam's ε = 1e-8 puts g/(|g| + ε) off sign(g) by ≤ 2e-7; times lr 0.01: 2e-9
    }

    [Fact]
    public void Lars_ScalesTheStepByTheTrustRatio()
    {
        var w = Weight(new double[,] { { 3, 4 } });
        using var lars = Optimizers.Create([w], Config(OptimizerKind.Lars, decay: 0.1));
        // ‖w‖ = 5, ‖g‖ = 1: trust = 0.001·5/(1 + 0.1·5) = 1/300; v = (g + 0.1w)/300 = [0.9, 1.2]/300; w − v
        Step(lars, w, new double[,] { { 0.6, 0.8 } }, 1.0);
        Near([3 - 0.003, 4 - 0.004], w, Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void Lamb_ScalesTheAdamDirectionByWeightNormOverUpdateNorm()
    {
        var w = Weight(new double[,] { { 3, 4 } });
        using var lamb = Optimizers.Create([w], Config(OptimizerKind.Lamb, decay: 0.1));
        // step 1: r ≈ sign(g) = [1, 1]; u = r + 0.1w = [1.3, 1.4]; trust = 5/√(1.69 + 1.96); w − 0.01·trust·u
        var trust = 5 / Math.Sqrt(1.3 * 1.3 + 1.4 * 1.4);
        Step(lamb, w, new double[,] { { 0.6, 0.8 } }, 0.01);
        Near([3 - 0.01 * trust * 1.3, 4 - 0.01 * trust * 1.4], w, 6);   // r ≈ sign(g) as above: off by ≤ 2e-9·trust
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW, 1e-2)]
    [InlineData(OptimizerKind.Sgd, 0.1)]
    [InlineData(OptimizerKind.SgdP, 0.1)]
    [InlineData(OptimizerKind.AdamP, 1e-2)]
    [InlineData(OptimizerKind.Lars, 2.0)]
    [InlineData(OptimizerKind.Lamb, 1e-2)]
    public void EveryOptimizer_TrainsAClassifier(OptimizerKind kind, double rate)
    {
        manual_seed(11);
        var centres = randn(4, 8) * 3;
        var labels = randint(0, 4, [512], dtype: int64);
        var inputs = centres.index_select(0, labels) + randn(512, 8);
        var data = new LabelledTensors(inputs, labels);
        var model = new Mlp(8, 4, width: 32, depth: 2, norm: "layernorm");
        var config = new TrainingConfig(60, BatchSize: 64, LearningRate: rate, WeightDecay: 1e-4, Beta2: 0.999, Optimizer: kind, EvaluationBatches: 0);
        var result = ClassificationTrainer.Train(kind.ToString(), model, data, data, config);
        Assert.False(result.Diverged, result.DivergenceReason);
        Assert.True(result.FinalValidationAccuracy > 0.9, $"{kind}: accuracy {result.FinalValidationAccuracy:P1}");   // measured 100% for all six
    }
}
