// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Training;

public sealed class ParameterSelectionTests
{
    private static LabelledTensors Data()
    {
        manual_seed(11);
        var labels = randint(0, 4, [64], dtype: int64);
        return new LabelledTensors(randn(4, 1, 28, 28).index_select(0, labels) + 0.5 * randn(64, 1, 28, 28), labels);
    }

    private static TrainingConfig Sgd(int steps) => new(steps, BatchSize: 16, LearningRate: 0.05, WeightDecay: 0, Beta1: 0.9,
        Optimizer: OptimizerKind.Sgd, GradientClip: 0, EvaluationBatches: 0);

    [Fact]
    public void TrainOnlyBatchNorm_LeavesEveryOtherWeightBitForBit_AndCountsTwoPerChannel()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var model = new SmallResNet(classes: 4, widths: [8, 16], blocksPerStage: 1);
        var affine = ParameterSelection.BatchNormAffine(model);
        var channels = model.modules().OfType<BatchNorm>().Sum(b => b.Channels);
        Assert.Equal(2 * channels, ParameterSelection.TrainOnly(model, (_, p) => affine.Contains(p)));
        Assert.Equal(2 * channels, ParameterSelection.TrainableCount(model));
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var data = Data();
        var result = ClassificationTrainer.Train("bn-only", model, data, data, Sgd(5));
        Assert.False(result.Diverged, result.DivergenceReason);
        foreach (var (name, p) in model.named_parameters())
        {
            var same = p.detach().allclose(before[name], rtol: 0, atol: 0);
            Assert.True(affine.Contains(p) ? !same || name.EndsWith("bias", StringComparison.Ordinal) : same, name);
        }
        Assert.Contains(model.named_parameters(), p => affine.Contains(p.parameter) && !p.parameter.detach().allclose(before[p.name], rtol: 0, atol: 0));
    }

    [Fact]
    public void RandomEntries_TrainsExactlyTheChosenEntries()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var model = new SmallResNet(classes: 4, widths: [8, 16], blocksPerStage: 1);
        var entries = ParameterSelection.RandomEntries(model, perRow: 2, new Generator(5));
        var rows = model.parameters().Where(p => p.dim() >= 2).Sum(p => p.shape[0]);
        Assert.Equal(2 * rows, entries.Count);
        Assert.All(entries.Masks, m => Assert.True(m.Mask.reshape(m.Mask.shape[0], -1).sum(1).eq(2).all().item<bool>()));
        var before = entries.Masks.Select(m => m.Parameter.detach().clone()).ToList();
        var frozenBefore = model.parameters().Where(p => p.dim() < 2).Select(p => p.detach().clone()).ToList();
        var data = Data();
        var result = ClassificationTrainer.Train("random", model, data, data, Sgd(5), afterBackward: entries.ZeroFrozenGradients);
        Assert.False(result.Diverged, result.DivergenceReason);
        for (var i = 0; i < entries.Masks.Count; i++)
        {
            var (p, mask) = entries.Masks[i];
            var moved = p.detach().ne(before[i]);
            Assert.False((moved & mask.eq(0)).any().item<bool>(), $"a frozen entry of tensor {i} moved");
        }
        Assert.Contains(Enumerable.Range(0, entries.Masks.Count), i => entries.Masks[i].Parameter.detach().ne(before[i]).any().item<bool>());
        Assert.All(model.parameters().Where(p => p.dim() < 2).Zip(frozenBefore), p => Assert.True(p.First.detach().allclose(p.Second, rtol: 0, atol: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ParameterSelection.RandomEntries(new SmallResNet(classes: 4, widths: [8, 16], blocksPerStage: 1), 10_000, new Generator(1)));
    }
}
