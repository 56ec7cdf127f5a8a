// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Training;

public sealed class LanguageModelTrainerTests
{
    private static readonly CharDataset Tiny = new(
        Enumerable.Range(0, 20).Select(i => string.Concat(Enumerable.Repeat($"the quick brown fox {i % 4} jumps over the lazy dog. ", 12))).ToList(),
        validationEvery: 5);

    private static CharTransformer Model(long seed, string norm = "layernorm")
    {
        manual_seed(seed);
        return new CharTransformer(new TransformerConfig(Tiny.VocabularySize, Width: 32, Depth: 2, Heads: 2, Context: 32, Norm: norm));
    }

    private static TrainingConfig Config(int steps, double lr = 3e-3) => new(steps, BatchSize: 8, Context: 32, LearningRate: lr, WarmupSteps: 5, Seed: 7);

    [Fact]
    public void Schedule_WarmsUpLinearly_ThenDecays()
    {
        var config = new TrainingConfig(110, LearningRate: 1.0, WarmupSteps: 10);
        Assert.Equal(0.1, config.LearningRateAt(0), Tolerances.ClosedFormDecimals);
        Assert.Equal(1.0, config.LearningRateAt(9), Tolerances.ClosedFormDecimals);
        Assert.Equal(1.0, config.LearningRateAt(10), Tolerances.ClosedFormDecimals);
        Assert.Equal(0.5, config.LearningRateAt(60), Tolerances.ClosedFormDecimals);
        Assert.Equal(0.5, (config with { Schedule = LearningRateSchedule.Linear }).LearningRateAt(60), Tolerances.ClosedFormDecimals);
        Assert.Equal(1.0, (config with { Schedule = LearningRateSchedule.Constant }).LearningRateAt(100), Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void Training_LowersTheLoss_AndEvaluatesAtTheEnd()
    {
        var result = LanguageModelTrainer.Train("tiny", Model(1), Tiny, Config(60));
        Assert.False(result.Diverged, result.DivergenceReason);
        Assert.Equal(60, result.Steps.Count);
        Assert.True(result.Steps[^1].Loss < 0.6 * result.Steps[0].Loss, $"loss {result.Steps[0].Loss:F3} → {result.Steps[^1].Loss:F3}");   // measured ratio 0.34
        Assert.NotNull(result.FinalValidationLoss);
        Assert.True(result.Throughput > 0 && result.ThroughputUnit == "tokens");
    }

    [Fact]
    public void SameSeed_GivesAnIdenticalLossCurve()
    {
        var first = LanguageModelTrainer.Train("a", Model(3, "batchnorm"), Tiny, Config(15));
        var second = LanguageModelTrainer.Train("b", Model(3, "batchnorm"), Tiny, Config(15));
        Assert.Equal(first.Steps.Select(s => s.Loss), second.Steps.Select(s => s.Loss));
        var other = LanguageModelTrainer.Train("c", Model(4, "batchnorm"), Tiny, Config(15));
        Assert.NotEqual(first.Steps.Select(s => s.Loss), other.Steps.Select(s => s.Loss));
    }

    [Fact]
    public void DivergenceGuard_StopsAndRecords_InsteadOfCrashing()
    {
        var result = LanguageModelTrainer.Train("too hot", Model(5), Tiny, Config(80, lr: 50.0) with { GradientClip = 0, WarmupSteps = 0 });
        Assert.True(result.Diverged);
        Assert.Matches("step [0-9]+: (loss|.*not finite)", result.DivergenceReason!);
        Assert.True(result.Steps.Count < 80);
    }

    [Fact]
    public void AccumulationSteps_SplitTheBatch()
    {
        var result = LanguageModelTrainer.Train("micro", Model(6, "batchnorm"), Tiny, Config(10) with { AccumulationSteps = 4 });
        Assert.False(result.Diverged);
        Assert.Throws<ArgumentException>(() => LanguageModelTrainer.Train("bad", Model(6), Tiny, Config(10) with { AccumulationSteps = 3 }));
    }

    [Fact]
    public void Result_RoundTripsThroughJson()
    {
        var result = LanguageModelTrainer.Train("json", Model(7), Tiny, Config(5) with { EvaluateEvery = 2 });
        var back = TrainingResult.FromJson(result.ToJson());
        Assert.Equal(result.Steps, back.Steps);
        Assert.Equal(result.Model, back.Model);
        Assert.Equal(result.Training, back.Training);
        Assert.Equal(3, result.Steps.Count(s => s.ValidationLoss is not null));   // steps 2, 4 and the last
    }

    [Fact]
    public void ManySteps_LeaveNoLiveTensorsBehind()
    {
        var model = Model(8);
        LanguageModelTrainer.Train("warm", model, Tiny, Config(20));
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        LanguageModelTrainer.Train("long", model, Tiny, Config(1000) with { EvaluateEvery = 250 });
        var after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        // The optimizer's state is created anew per run (2 moments per parameter) and the model is unchanged in size.
        Assert.True(after - before <= 4 * model.parameters().Count(), $"live tensors grew from {before} to {after} over 1,000 steps");
    }

    [Fact]
    public void Validation_IsTheSameSetForEverySeed_SoRunsPair()
    {
        var model = Model(8);
        var config = Config(1) with { ValidationCharacters = 600 };
        var first = LanguageModelTrainer.Evaluate(model, Tiny, config with { Seed = 1 });
        Assert.Equal(first, LanguageModelTrainer.Evaluate(model, Tiny, config with { Seed = 2 }));
        Assert.NotEqual(first, LanguageModelTrainer.Evaluate(model, Tiny, config with { ValidationCharacters = 64 }));
    }

    [Fact]
    public void ARunEndingAtOrAboveTheCollapseLoss_IsRecordedAsFailed()
    {
        // A 3-step run ends near log V nats: above a threshold of 1 nat, below one of 100.
        var collapsed = LanguageModelTrainer.Train("collapsed", Model(9), Tiny, Config(3) with { CollapseLoss = 1.0 });
        Assert.True(collapsed.Diverged);
        Assert.StartsWith("collapse", collapsed.DivergenceReason);
        var healthy = LanguageModelTrainer.Train("healthy", Model(9), Tiny, Config(3) with { CollapseLoss = 100 });
        Assert.False(healthy.Diverged, healthy.DivergenceReason);
        Assert.Equal(collapsed.FinalValidationLoss, healthy.FinalValidationLoss);
    }
}
