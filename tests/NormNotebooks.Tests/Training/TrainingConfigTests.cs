// SPDX-License-Identifier: MIT
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;

namespace NormNotebooks.Tests.Training;

public sealed class TrainingConfigTests
{
    private static readonly TrainingConfig Peak1Warmup10 = new(110, LearningRate: 1.0, WarmupSteps: 10);

    public static TheoryData<LearningRateSchedule> Decays => [LearningRateSchedule.Cosine, LearningRateSchedule.Linear];

    [Fact]
    public void MinLearningRate_Zero_IsTheDefault_AndGivesTheFormerSchedulesBitForBit()
    {
        var config = new TrainingConfig(37, LearningRate: 3e-3, WarmupSteps: 4);
        Assert.Equal(0, config.MinLearningRate);
        for (var step = 4; step <= 37; step++)
        {
            var progress = (double)(step - 4) / (37 - 4);
            Assert.Equal(3e-3 * 0.5 * (1 + Math.Cos(Math.PI * progress)), config.LearningRateAt(step));
            Assert.Equal(3e-3 * (1 - progress), (config with { Schedule = LearningRateSchedule.Linear }).LearningRateAt(step));
        }
    }

    [Theory]
    [MemberData(nameof(Decays))]
    public void Decay_FallsFromThePeakToMinLearningRate_Monotonically(LearningRateSchedule schedule)
    {
        var config = Peak1Warmup10 with { Schedule = schedule, MinLearningRate = 0.2 };
        Assert.Equal(1.0, config.LearningRateAt(10), Tolerances.ClosedFormDecimals);
        Assert.Equal(0.6, config.LearningRateAt(60), Tolerances.ClosedFormDecimals);     // halfway: (η + η_min)/2 for both shapes
        Assert.Equal(0.2, config.LearningRateAt(110), Tolerances.ClosedFormDecimals);    // step Steps, just after the last
        for (var step = 10; step < 110; step++)
        {
            Assert.True(config.LearningRateAt(step + 1) <= config.LearningRateAt(step), $"{schedule} rises at step {step}");
            Assert.True(config.LearningRateAt(step) >= 0.2, $"{schedule} below the floor at step {step}");
        }
    }

    [Fact]
    public void Cosine_WithAFloor_IsTheFloorPlusAScaledCosine()
    {
        // nanoGPT's get_lr: min_lr + ½(1 + cos πp)(learning_rate − min_lr); at p = ¼.
        var config = Peak1Warmup10 with { MinLearningRate = 0.1 };
        Assert.Equal(0.1 + 0.5 * (1 + Math.Cos(Math.PI / 4)) * 0.9, config.LearningRateAt(35), Tolerances.ClosedFormDecimals);
        Assert.Equal(0.1 + 0.75 * 0.9, (config with { Schedule = LearningRateSchedule.Linear }).LearningRateAt(35), Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void WarmupAndConstantSchedule_IgnoreMinLearningRate()
    {
        var config = Peak1Warmup10 with { MinLearningRate = 0.5 };
        Assert.Equal(0.1, config.LearningRateAt(0), Tolerances.ClosedFormDecimals);
        Assert.Equal(1.0, (config with { Schedule = LearningRateSchedule.Constant }).LearningRateAt(100), Tolerances.ClosedFormDecimals);
    }

    [Theory]
    [InlineData(-1e-4)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Validate_RejectsAMinLearningRateOutsideZeroToThePeak(double minimum)
    {
        var error = Assert.Throws<ArgumentException>(() => (Peak1Warmup10 with { MinLearningRate = minimum }).Validate());
        Assert.Equal("MinLearningRate", error.ParamName);
        Assert.Contains("must be in [0, LearningRate = 1]", error.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Validate_AcceptsTheEndsOfTheRange(double minimum) => (Peak1Warmup10 with { MinLearningRate = minimum }).Validate();
}
