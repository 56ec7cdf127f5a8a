// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Training;

public sealed class ProbesTests
{
    private static readonly CharDataset Tiny = new(
        Enumerable.Range(0, 20).Select(i => string.Concat(Enumerable.Repeat($"a stitch in time saves {i % 3} nine. ", 10))).ToList(),
        validationEvery: 5);

    private static CharTransformer Model(string norm = "layernorm", NormPlacement placement = NormPlacement.PreLN, int depth = 3)
    {
        manual_seed(21);
        return new CharTransformer(new TransformerConfig(Tiny.VocabularySize, Width: 16, Depth: depth, Heads: 2, Context: 16, Norm: norm, Placement: placement));
    }

    private static Tensor Tokens() => LanguageModelTrainer.ProbeBatch(Tiny, 4, 16);

    /// <summary>acos near ±1 turns a rounding δ of the cosine into an angle of √(2δ): for a float64 cosine (δ ≈ 2⁻⁵²) that is 2.1e-8
    /// radians, 6.7e-9 of π, inside 7 decimals of the distance (angle/π).</summary>
    private const int AngleNearZeroOrOneDecimals = 7;

    [Fact]
    public void AngularDistance_IsZeroHalfAndOne_ForEqualOrthogonalAndOppositeVectors()
    {
        var x = tensor(new double[] { 1, 2, 3 });
        Assert.Equal(0, Probes.AngularDistance(x, 2 * x), AngleNearZeroOrOneDecimals);
        Assert.Equal(1, Probes.AngularDistance(x, -x), AngleNearZeroOrOneDecimals);
        Assert.Equal(0.5, Probes.AngularDistance(x, tensor(new double[] { 3, 0, -1 })), Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void ResidualStream_MatchesTheHiddenStates_AndARemovedBlockTurnsNothing()
    {
        var model = Model();
        var tokens = Tokens();
        var states = model.HiddenStates(tokens);
        Assert.Equal(4, states.Count);
        var stats = Probes.ResidualStream(model, tokens);
        for (var l = 0; l < states.Count; l++)
        {
            var s = states[l].to(float64);
            // Means over 4·16·16 = 1,024 values in float64; the one-pass variance errs relative to the mean square it subtracts from.
            var meanSquare = s.square().mean().ToDouble();
            Assert.Equal(meanSquare, stats.MeanSquare[l], Tolerances.Float64Sum(1024) * meanSquare);
            Assert.Equal(meanSquare - Math.Pow(s.mean().ToDouble(), 2), stats.Variance[l], Tolerances.Float64Sum(1024) * meanSquare);
        }
        model.RemovedBlocks.Add(1);
        Assert.Equal(0, Probes.ResidualStream(model, tokens).AngularDistance[1], AngleNearZeroOrOneDecimals);
    }

    [Fact]
    public void LayerRemoval_OfABlockThatWritesNothing_CostsNothing()
    {
        var model = Model();
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.StartsWith("blocks.2.", StringComparison.Ordinal) && (name.Contains("attn.proj") || name.Contains("mlp.proj")))
                    p.zero_();
        var deltas = Probes.LayerRemovalDeltas(model, Tiny, new TrainingConfig(1, BatchSize: 4, Context: 16, EvaluationBatches: 2));
        Assert.Equal(0, deltas[2]);   // the block adds exact zeros: the two losses are the same bits
        Assert.NotEqual(0, deltas[0]);
        Assert.Empty(model.RemovedBlocks);
    }

    [Fact]
    public void AttentionEntropy_OfUniformCausalAttention_IsTheMeanOfLogPositions()
    {
        var model = Model();
        using (no_grad())
            foreach (var (name, p) in model.named_parameters())
                if (name.Contains("attn.qkv"))
                    p.zero_();   // q = k = 0: every causal row is uniform over its i + 1 keys
        var entropy = Probes.AttentionEntropy(model, Tokens());
        var expected = Enumerable.Range(1, 16).Average(n => Math.Log(n));
        // float32 attention rows: measured 2.6e-8 from the float64 value; 6 decimals (5e-7) is 20× that.
        const int float32EntropyDecimals = 6;
        Assert.Equal(expected, entropy[0, 0], float32EntropyDecimals);
        Assert.Equal(expected, entropy[2, 1], float32EntropyDecimals);
    }

    [Fact]
    public void BlockGradientNorms_SumTheBlocksMatrices()
    {
        var model = Model();
        var (x, y) = Tiny.SampleBatch(Tiny.Train, 4, 16, new Generator(1));
        nn.functional.cross_entropy(model.forward(x).reshape(-1, Tiny.VocabularySize), y.reshape(-1)).backward();
        var norms = Probes.BlockGradientNorms(model);
        var expected = Math.Sqrt(model.named_parameters().Where(p => p.name.StartsWith("blocks.1.", StringComparison.Ordinal) && p.parameter.dim() >= 2)
            .Sum(p => p.parameter.grad!.square().sum().ToDouble()));
        Assert.Equal(3, norms.Length);
        Assert.Equal(expected, norms[1], Tolerances.ClosedFormDecimals);   // the same float32 sums as the probe's (measured equal)
    }

    [Fact]
    public void BatchStatistics_IsTheScaledDistanceToTheRunningStatistics()
    {
        manual_seed(2);
        var bn = new BatchNorm(8, channelsLast: true);
        bn.train();
        bn.forward(randn(64, 8) * 3 + 1);
        var layer = Assert.Single(Probes.BatchStatistics(bn));
        var (mean, variance) = bn.LastBatchStatistics!.Value;
        // float32 statistics of 8 channels taken in another order: measured up to 4.4e-8 apart; 6 decimals (5e-7) is 11× that.
        const int float32StatisticDecimals = 6;
        Assert.Equal((mean - bn.RunningMean).norm().ToDouble() / 8, layer.MeanDistance, float32StatisticDecimals);
        Assert.Equal((variance - bn.RunningVar).norm().ToDouble() / 8, layer.SecondMomentDistance, float32StatisticDecimals);
        Assert.Equal(((mean - bn.RunningMean).abs() / bn.RunningVar.sqrt()).mean().ToDouble(), layer.RelativeMeanDistance, float32StatisticDecimals);
        Assert.Equal(((variance - bn.RunningVar).abs() / bn.RunningVar).mean().ToDouble(), layer.RelativeSecondMomentDistance, float32StatisticDecimals);
        Assert.Empty(Probes.BatchStatistics(new LayerNorm(8)));
    }

    [Fact]
    public void Trainer_ReadsProbes_AtTheFirstEveryNthAndLastStep()
    {
        var model = Model("batchnorm");
        var probes = new[] { TrainingProbe.BlockGradientNorms(), TrainingProbe.ResidualStream(Tokens()), TrainingProbe.BatchStatistics(), TrainingProbe.AttentionEntropy(Tokens()) };
        var config = new TrainingConfig(12, BatchSize: 4, Context: 16, ProbeEvery: 5, EvaluationBatches: 1);
        var result = LanguageModelTrainer.Train("probed", model, Tiny, config, probes: probes);
        Assert.Equal([0, 5, 10, 11], result.Probe("grad-norm").Select(s => s.Step));
        Assert.All(result.Probe("grad-norm"), s => Assert.Equal(3, s.Values.Length));
        Assert.Equal(4, result.Probe("residual-mean-square")[0].Values.Length);
        Assert.Equal(3, result.Probe("angular-distance")[0].Values.Length);
        Assert.Equal(2 * 3 + 1, result.Probe("bn-second-moment-distance")[0].Values.Length);   // two per block and the final norm
        Assert.Equal(3, result.Probe("attention-entropy")[0].Values.Length);
        Assert.Throws<KeyNotFoundException>(() => result.Probe("nonsense"));
        var back = TrainingResult.FromJson(result.ToJson());
        Assert.Equal(result.Probe("grad-norm")[3].Values, back.Probe("grad-norm")[3].Values);
    }

    [Fact]
    public void Probes_ChangeNothing_AboutTheRun()
    {
        var probes = new[] { TrainingProbe.BlockGradientNorms(), TrainingProbe.ResidualStream(Tokens()), TrainingProbe.BatchStatistics() };
        var config = new TrainingConfig(8, BatchSize: 4, Context: 16, EvaluationBatches: 1);
        var plain = LanguageModelTrainer.Train("plain", Model("batchnorm"), Tiny, config);
        var probed = LanguageModelTrainer.Train("probed", Model("batchnorm"), Tiny, config with { ProbeEvery = 1 }, probes: probes);
        Assert.Equal(plain.Steps.Select(s => s.Loss), probed.Steps.Select(s => s.Loss));
    }

    [Fact]
    public void ActivationMoments_AreTheUnitAveragedBatchMomentsOfEachHiddenLayer()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var mlp = new Mlp(20, 3, width: 16, depth: 3, activation: "selu");
        var x = randn(64, 20);
        var moments = Probes.ActivationMoments(mlp, x);
        var hidden = mlp.HiddenOutputs(x);
        Assert.Equal(3, moments.Mean.Length);
        for (var l = 0; l < 3; l++)
        {
            var h = hidden[l].to(float64);
            Assert.Equal(h.mean().item<double>(), moments.Mean[l], 12);
            Assert.Equal((h - h.mean([0L], keepdim: true)).square().mean().item<double>(), moments.Variance[l], 12);
            Assert.Equal((h - h.mean()).square().mean().item<double>(), moments.TotalVariance[l], 12);
            // total = per-unit variance + the variance of the unit means around their mean
            Assert.Equal(moments.Variance[l] + (h.mean([0L]) - h.mean()).square().mean().item<double>(), moments.TotalVariance[l], 12);
        }
    }

    [Fact]
    public void Roughness_IsZeroForASmoothDescent_ScaleFree_AndMeasuresJitter()
    {
        var smooth = Enumerable.Range(0, 200).Select(t => 2.3 * Math.Exp(-0.01 * t) + 0.1).ToArray();
        Assert.InRange(Probes.Roughness(smooth), 0, 1e-4);
        // A multiplicative jitter e^{±0.1} alternating step by step: the 21-step average keeps ±0.1/21 of it, so the 180 log residuals
        // are ±0.1·20/21, whose sample standard deviation (n − 1 in the denominator) is 0.1·(20/21)·√(180/179).
        var jagged = smooth.Select((l, t) => l * Math.Exp(t % 2 == 0 ? 0.1 : -0.1)).ToArray();
        Assert.Equal(0.1 * 20 / 21 * Math.Sqrt(180.0 / 179), Probes.Roughness(jagged), 4);
        Assert.Equal(Probes.Roughness(jagged), Probes.Roughness(jagged.Select(l => 7 * l).ToArray()), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => Probes.Roughness(smooth, 20));
        Assert.Throws<ArgumentException>(() => Probes.Roughness(smooth.Take(10).ToArray()));
        Assert.Throws<ArgumentException>(() => Probes.Roughness([.. smooth.Take(50), double.NaN]));
    }

    [Fact]
    public void TrainingModeLoss_UsesBatchStatistics_AndLeavesRunningStatisticsAndModeAsTheyWere()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var mlp = new Mlp(12, 3, width: 8, depth: 2, norm: "batchnorm");
        var data = new LabelledTensors(randn(40, 12) * 3 + 1, randint(0, 3, 40));
        mlp.eval();
        var before = mlp.named_buffers().Select(b => b.buffer.clone()).ToList();
        var loss = Probes.TrainingModeLoss(mlp, data, batchSize: 16);
        Assert.False(mlp.training);
        Assert.All(mlp.named_buffers().Select(b => b.buffer).Zip(before), p => Assert.True(p.First.allclose(p.Second, rtol: 0, atol: 0)));
        mlp.train();
        double expected;
        using (no_grad())
            expected = new[] { (0L, 16L), (16L, 16L), (32L, 8L) }.Sum(c => nn.functional.cross_entropy(mlp.forward(data.Images.narrow(0, c.Item1, c.Item2)),
                data.Labels.narrow(0, c.Item1, c.Item2), reduction: nn.Reduction.Sum).item<float>()) / 40.0;
        Assert.Equal(expected, loss, 5);
        var evaluated = ClassificationTrainer.Evaluate(mlp, data).Loss;   // running statistics instead: a different number
        Assert.NotEqual(Math.Round(evaluated, 3), Math.Round(loss, 3));
    }

    [Fact]
    public void LossLandscape_EvaluatesTheLineAlongTheGradient_AndRestoresParametersGradientsBuffersAndMode()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var mlp = new Mlp(6, 3, width: 5, depth: 2, norm: "batchnorm");
        mlp.to(float64);
        var batch = new LabelledTensors(randn(16, 6, dtype: float64), randint(0, 3, 16));
        mlp.eval();
        var parameters = mlp.parameters().ToList();
        nn.functional.cross_entropy(mlp.forward(batch.Images), batch.Labels).backward();   // the trainer's gradients, to be left alone
        var weights = parameters.Select(p => p.detach().clone()).ToList();
        var grads = parameters.Select(p => p.grad!.clone()).ToList();
        var buffers = mlp.named_buffers().Select(b => b.buffer.clone()).ToList();
        double[] steps = [0.01, 0.1];

        var landscape = Probes.LossLandscape(mlp, batch, steps);

        Assert.False(mlp.training);
        Assert.All(parameters.Zip(weights), p => Assert.True(p.First.detach().allclose(p.Second, rtol: 0, atol: 0)));
        Assert.All(parameters.Zip(grads), p => Assert.True(p.First.grad!.allclose(p.Second, rtol: 0, atol: 0)));
        Assert.All(mlp.named_buffers().Select(b => b.buffer).Zip(buffers), p => Assert.True(p.First.allclose(p.Second, rtol: 0, atol: 0)));
        // The same line by hand: training mode, backward on a copy of the model's state.
        mlp.train();
        Tensor[] Gradient(out double loss)
        {
            foreach (var p in parameters) p.grad = null;
            var l = nn.functional.cross_entropy(mlp.forward(batch.Images), batch.Labels);
            l.backward();
            loss = l.item<double>();
            using (no_grad())
                foreach (var (b, copy) in mlp.named_buffers().Select(b => b.buffer).Zip(buffers))
                    b.copy_(copy);
            return parameters.Select(p => p.grad!.clone()).ToArray();
        }
        var g = Gradient(out var loss0);
        Assert.Equal(loss0, landscape.Loss, Tolerances.ClosedFormDecimals);
        Assert.Equal(Math.Sqrt(g.Sum(t => t.square().sum().item<double>())), landscape.GradientNorm, Tolerances.ClosedFormDecimals);
        for (var k = 0; k < steps.Length; k++)
        {
            using (no_grad())
                for (var i = 0; i < parameters.Count; i++)
                    parameters[i].copy_(weights[i] - steps[k] * g[i]);
            var moved = Gradient(out var movedLoss);
            Assert.Equal(movedLoss, landscape.Losses[k], Tolerances.ClosedFormDecimals);
            Assert.Equal(Math.Sqrt(moved.Zip(g, (a, b) => (a - b).square().sum().item<double>()).Sum()), landscape.GradientChanges[k], Tolerances.ClosedFormDecimals);
        }
        Assert.Equal(landscape.Losses.Append(landscape.Loss).Max() - landscape.Losses.Append(landscape.Loss).Min(), landscape.LossRange, 15);
        Assert.Equal(Math.Max(landscape.GradientChanges[0] / (0.01 * landscape.GradientNorm), landscape.GradientChanges[1] / (0.1 * landscape.GradientNorm)),
            landscape.EffectiveSmoothness, 12);
        Assert.Throws<ArgumentException>(() => Probes.LossLandscape(mlp, batch, [0.1, -1]));
        Assert.Throws<ArgumentException>(() => Probes.LossLandscape(mlp, batch, []));
    }

    [Fact]
    public void DeadChannels_CountsChannelsNeverPositive_PerBlock_InEvaluationMode()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var cnn = new SmallCnn(norm: "none", widths: [4, 8, 8]);
        var images = randn(6, 1, 28, 28);
        using (no_grad())
        {
            var convs = cnn.named_parameters().Where(p => p.name.Contains("conv")).ToDictionary(p => p.name, p => p.parameter);
            TorchSharp.Modules.Parameter Find(int block, string kind) => convs.Single(p => p.Key.Contains($"conv{block}") && p.Key.EndsWith(kind, StringComparison.Ordinal)).Value;
            Find(0, "bias").fill_(100);
            Find(0, "bias")[1].fill_(-1e6);     // block 0: one channel of 4 never positive
            Find(1, "weight").zero_();          // block 1: outputs are its biases: two channels of 8 negative
            Find(1, "bias").fill_(1);
            Find(1, "bias")[2].fill_(-1);
            Find(1, "bias")[5].fill_(-1);
        }
        cnn.train();
        var dead = Probes.DeadChannels(cnn, images);
        Assert.True(cnn.training);
        Assert.Equal(3, dead.Length);
        Assert.Equal(0.25, dead[0], 15);
        Assert.Equal(0.25, dead[1], 15);
        // With a threshold of 100 % every channel counts.
        Assert.All(Probes.DeadChannels(cnn, images, activeFraction: 1), fraction => Assert.Equal(1, fraction));
    }

    [Fact]
    public void WeightDistance_IsTheNormOfTheChangeSinceTheProbeWasMade()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var mlp = new Mlp(5, 2, width: 4, depth: 1);
        var probe = TrainingProbe.WeightDistance(mlp);
        var context = new ProbeContext(mlp, 0, 0.1);
        Assert.Equal(0, probe.Read(context).Single().Values.Single());
        using (no_grad())
        {
            var parameters = mlp.parameters().ToList();
            parameters[0][0, 0].add_(3);
            parameters[^1][1].add_(-4);
        }
        var reading = probe.Read(context).Single();
        Assert.Equal("weight-distance", reading.Series);
        Assert.Equal(5, reading.Values.Single(), 5);
        Assert.Throws<InvalidOperationException>(() => probe.Read(new ProbeContext(new Mlp(5, 2, width: 4, depth: 1), 0, 0.1)).ToList());
    }
}
