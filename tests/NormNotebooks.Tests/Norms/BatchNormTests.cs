// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class BatchNormTests
{
    public static TheoryData<long[]> Shapes => [[16, 5], [8, 5, 7], [4, 5, 6, 3]];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TrainingAndEval_MatchLibtorch_OverSeveralSteps(long[] shape)
    {
        using var scope = NewDisposeScope();
        var norm = new BatchNorm(5, momentum: 0.3);
        using (no_grad())
        {
            norm.Weight!.copy_(Inputs.Random([5], seed: 2));
            norm.Bias!.copy_(Inputs.Random([5], seed: 3));
        }
        var runningMean = zeros(5);
        var runningVar = ones(5);
        for (var step = 0; step < 4; step++)
        {
            var x = Inputs.Random(shape, seed: 10 + step, mean: step, scale: 1 + step);
            var expected = nn.functional.batch_norm(x, runningMean, runningVar, norm.Weight!.detach(), norm.Bias!.detach(), training: true, momentum: 0.3, eps: 1e-5);
            Tolerances.AssertClose(expected, norm.forward(x), Tolerances.Float32, what: $"training step {step}");
        }
        Tolerances.AssertClose(runningMean, norm.RunningMean, Tolerances.Float32, what: "running mean");
        Tolerances.AssertClose(runningVar, norm.RunningVar, Tolerances.Float32, what: "running variance");
        Assert.False(norm.RunningMean.requires_grad);

        norm.eval();
        var test = Inputs.Random(shape, seed: 50);
        var evalExpected = nn.functional.batch_norm(test, runningMean, runningVar, norm.Weight!.detach(), norm.Bias!.detach(), training: false, eps: 1e-5);
        Tolerances.AssertClose(evalExpected, norm.forward(test), Tolerances.Float32, what: "eval");
    }

    [Fact]
    public void RunningStatistics_FollowTheMomentumFormula()
    {
        using var scope = NewDisposeScope();
        var norm = new BatchNorm(3, momentum: 0.1, dtype: ScalarType.Float64);
        double mean = 0, variance = 1;
        for (var step = 0; step < 3; step++)
        {
            var x = Inputs.Random([10, 3], ScalarType.Float64, seed: step);
            norm.forward(x);
            var column = x[.., 0].data<double>().ToArray();
            var batchMean = column.Average();
            var unbiased = column.Sum(v => (v - batchMean) * (v - batchMean)) / 9;
            mean = 0.9 * mean + 0.1 * batchMean;
            variance = 0.9 * variance + 0.1 * unbiased;
        }
        Assert.Equal(mean, norm.RunningMean[0].item<double>(), 12);
        Assert.Equal(variance, norm.RunningVar[0].item<double>(), 12);
    }

    [Fact]
    public void ChannelsLast_NormalisesEachFeatureOverBatchAndPositions()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([4, 6, 5]);   // [B, T, d]
        var last = new BatchNorm(5, channelsLast: true).forward(x);
        var first = new BatchNorm(5).forward(x.permute(0, 2, 1)).permute(0, 2, 1);
        Tolerances.AssertClose(first, last, Tolerances.Float32);
    }

    [Fact]
    public void Output_IsInvariantToScalingThePrecedingWeight()
    {
        using var scope = NewDisposeScope();
        var input = Inputs.Random([32, 10], ScalarType.Float64);
        var weight = Inputs.Random([10, 6], ScalarType.Float64, seed: 3);
        var norm = new BatchNorm(6, eps: 0, dtype: ScalarType.Float64);
        Tolerances.AssertClose(norm.forward(input.matmul(weight)), norm.forward(input.matmul(weight * 4.0)), Tolerances.Float64);
    }

    [Fact]
    public void Gradient_PassesFiniteDifferenceCheck() =>
        GradCheck.Input(new BatchNorm(3, dtype: ScalarType.Float64).forward, Inputs.Random([5, 3, 2], ScalarType.Float64));

    [Fact]
    public void WrongChannels_AndASingleValuePerChannel_AreClearErrors()
    {
        Assert.Contains("expected input with 4 channels on axis 1, got [2, 3]",
            Assert.Throws<ArgumentException>(() => new BatchNorm(4).forward(zeros(2, 3))).Message);
        Assert.Contains("more than one value per channel",
            Assert.Throws<ArgumentException>(() => new BatchNorm(3).forward(zeros(1, 3))).Message);
    }
}
