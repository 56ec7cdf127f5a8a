// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class ResNetTests
{
    [Theory]
    [InlineData("batchnorm", false)]
    [InlineData("groupnorm", true)]
    [InlineData("none", false)]
    public void SmallResNet_MapsImagesToLogits_WithAnyNorm(string norm, bool weightStandardization)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var model = new SmallResNet(norm: norm, weightStandardization: weightStandardization);
        Assert.Equal([5L, 10L], model.forward(randn(5, 1, 28, 28)).shape);
        Assert.Equal(6, model.BlockCount);
        Assert.Equal(weightStandardization, model.modules().Any(m => m is WeightStandardizedConv2d));
        Assert.Equal(norm == "none", !model.modules().Any(m => m is BatchNorm or GroupNorm));
        Assert.Contains("expected images", Assert.Throws<ArgumentException>(() => model.forward(randn(5, 28, 28))).Message);
    }

    [Fact]
    public void NfResNet_ScalesEachBlockByItsExpectedInputDeviation()
    {
        var model = new NfResNet(alpha: 0.2);
        // Var grows by α² = 0.04 per block and restarts at 1 + α² after each transition (the first block of stages 2 and 3).
        var expected = new[] { 1.0, 1.04, 1.08, 1.04, 1.08, 1.04 }.Select(Math.Sqrt);
        Assert.Equal(expected, model.Betas, (a, b) => Math.Abs(a - b) <= Tolerances.ClosedForm);
        Assert.DoesNotContain(model.modules(), m => m is BatchNorm or LayerNorm or GroupNorm);
        Assert.Equal(new[] { 1.04, 1.08, 1.04, 1.08, 1.04, 1.08 }, model.ExpectedVariances, (a, b) => Math.Abs(a - b) <= Tolerances.ClosedForm);
        Assert.Equal(ActivationGains.Relu, model.Gain);
        Assert.Equal(1.0, new NfResNet(activationGain: false).Gain);
    }

    [Fact]
    public void NfResNet_SignalPropagation_FollowsTheAnalyticVariance_AtInitialisation()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var model = new NfResNet(alpha: 0.2);
        var spp = Probes.SignalPropagation(model, randn(64, 1, 28, 28));
        var expected = new[] { 1.04, 1.08, 1.04, 1.08, 1.04, 1.08 };   // the variance after each block
        for (var i = 0; i < expected.Length; i++)
            Assert.InRange(spp.ChannelVariance[i], 0.65 * expected[i], 1.35 * expected[i]);   // measured with seed 2 on 64 images: 0.93 to 1.02 of expected
        Assert.Null(model.BlockOutput);
    }

    [Fact]
    public void NfResNet_Trains()
    {
        manual_seed(3);
        var centres = randn(4, 1, 28, 28);
        var labels = randint(0, 4, [256], dtype: int64);
        var images = centres.index_select(0, labels) + 0.5 * randn(256, 1, 28, 28);
        var data = new LabelledTensors(images, labels);
        // Widths 8 and 16: the 8-channel convolutions are the ones libtorch's oneDNN gets wrong (PaddedConvolution), so this run
        // diverged with NaN gradients in about half of its seeds before the library padded them.
        var result = ClassificationTrainer.Train("nf", new NfResNet(classes: 4, widths: [8, 16]), data, data,
            new TrainingConfig(30, BatchSize: 32, LearningRate: 3e-3, WeightDecay: 0, EvaluationBatches: 0));
        Assert.False(result.Diverged, result.DivergenceReason);
        Assert.True(result.FinalValidationAccuracy > 0.9, $"accuracy {result.FinalValidationAccuracy:P1}");   // measured 93.4%
    }

    [Fact]
    public void NfResNet_WithoutTheActivationGain_LosesSignalThroughDepth()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var images = randn(64, 1, 28, 28);
        manual_seed(3);
        var withGain = Probes.SignalPropagation(new NfResNet(blocksPerStage: 3), images).ChannelVariance;
        manual_seed(3);
        var without = Probes.SignalPropagation(new NfResNet(blocksPerStage: 3, activationGain: false), images).ChannelVariance;
        // Without γ each ReLU halves the second moment and removes the mean's share, so a transition's shortcut (one ReLU) leaves
        // about Var(relu(z)) = (1 − 1/π)/2 ≈ 0.34 of the signal, against ≈ 1 with γ: the last block's variance must be well below.
        Assert.True(without[^1] < 0.6 * withGain[^1], $"last-block variance without γ {without[^1]:F3}, with γ {withGain[^1]:F3}");
    }

    [Theory]
    [InlineData("batchnorm")]
    [InlineData("none")]
    public void PreActResNet_MapsImagesToLogits_WithHeNormalConvolutions(string norm)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var model = new PreActResNet(norm: norm, blocksPerStage: 2);
        Assert.Equal([5L, 10L], model.forward(randn(5, 1, 28, 28)).shape);
        Assert.Equal(6, model.BlockCount);
        Assert.Equal(norm == "none", !model.modules().Any(m => m is BatchNorm));
        var convs = model.modules().OfType<NormNotebooks.Kernels.PaddedConv2d>().ToList();
        Assert.Equal(1 + 6 * 2 + 2, convs.Count);                 // stem, two per block, a 1×1 shortcut at each of the two transitions
        Assert.All(convs, c => Assert.Equal(norm == "none", c.Bias is not null));
        var wide = convs.Where(c => c.Weight.numel() >= 4_000).ToList();   // enough draws to see the variance: SE = σ²√(2/n)
        Assert.NotEmpty(wide);
        foreach (var c in wide)
        {
            var target = 2.0 / (c.InChannels * c.KernelSize * c.KernelSize);
            var bar = Tolerances.StandardErrors * target * Math.Sqrt(2.0 / c.Weight.numel());
            Assert.InRange(c.Weight.to(float64).var().item<double>(), target - bar, target + bar);
        }
        Assert.Contains("expected images", Assert.Throws<ArgumentException>(() => model.forward(randn(5, 28, 28))).Message);
    }

    [Fact]
    public void PreActResNet_WithBatchNorm_GrowsTheStreamVarianceByAboutOnePerBlock_AndResetsAtTransitions()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var model = new PreActResNet(norm: "batchnorm", blocksPerStage: 3);
        model.train();
        var variance = Probes.SignalPropagation(model, randn(64, 1, 28, 28)).ChannelVariance;
        // Each branch ends in a He-normal conv of a BN–ReLU output, adding a variance of about 1; a transition's shortcut is a conv of a
        // BN–ReLU output too, so the variance restarts near 2. Within a stage it must grow, and drop at the next stage's first block.
        for (var stage = 0; stage < 3; stage++)
            for (var b = 1; b < 3; b++)
                Assert.True(variance[3 * stage + b] > variance[3 * stage + b - 1], $"block {3 * stage + b}: {string.Join(", ", variance.Select(v => v.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(variance[3] < variance[2] && variance[6] < variance[5], string.Join(", ", variance.Select(v => v.ToString("F2", System.Globalization.CultureInfo.InvariantCulture))));
    }
}
