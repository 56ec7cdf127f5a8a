// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class PreRmsNormConversionTests
{
    private static CharTransformer PreLnWithTrainedLookingNorms(ScalarType dtype)
    {
        manual_seed(11);
        var model = new CharTransformer(new TransformerConfig(13, Width: 32, Depth: 3, Heads: 4, Context: 16));
        model.to(dtype);
        using (no_grad())
        {
            // Non-trivial γ, β and biases, as after training, so the folding is really exercised.
            foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.Contains("norm") || p.name.EndsWith(".bias", StringComparison.Ordinal)))
                parameter.copy_(Inputs.Random(parameter.shape, dtype, seed: name.Length + 3, mean: name.EndsWith("weight", StringComparison.Ordinal) ? 1 : 0, scale: 0.3));
        }
        return model;
    }

    /// <summary>The conversions change each norm's arithmetic, not the maths: the logits differ by the rounding of the width-32 sums.</summary>
    private static double WidthSum(ScalarType dtype) => dtype == ScalarType.Float64 ? Tolerances.Float64Sum(32) : Tolerances.Float32Sum(32);

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void ConvertedModel_GivesTheSameLogits(ScalarType dtype)
    {
        var tolerance = WidthSum(dtype);
        using var scope = NewDisposeScope();
        var preLn = PreLnWithTrainedLookingNorms(dtype);
        var preRms = PreRmsNormConversion.Convert(preLn);
        var tokens = randint(0, 13, [4, 16], dtype: ScalarType.Int64, generator: new Generator(2));
        var expected = preLn.forward(tokens);
        Tolerances.AssertClose(expected, preRms.forward(tokens), tolerance, tolerance, what: "Pre-RMSNorm logits vs Pre-LN");
        Assert.Equal("rmsnorm", preRms.Config.Norm);
    }

    [Fact]
    public void ConvertedModel_KeepsTheResidualStreamZeroMean()
    {
        using var scope = NewDisposeScope();
        var preRms = PreRmsNormConversion.Convert(PreLnWithTrainedLookingNorms(ScalarType.Float64));
        var worst = 0.0;
        preRms.BlockOutput = (_, x) => worst = Math.Max(worst, (x.mean([-1L]).abs() / x.square().mean([-1L]).sqrt()).max().item<double>());
        preRms.forward(randint(0, 13, [2, 16], dtype: ScalarType.Int64));
        Assert.True(worst <= Tolerances.Float64Sum(32), $"|mean| / rms of the residual stream reached {worst:E2}");   // a mean over the width of 32
    }

    [Fact]
    public void OnlyPreLnLayerNormModels_Convert()
    {
        var post = new CharTransformer(new TransformerConfig(13, Width: 16, Depth: 1, Heads: 2, Context: 8, Placement: NormPlacement.PostLN));
        Assert.Contains("needs a Pre-LN LayerNorm model", Assert.Throws<ArgumentException>(() => PreRmsNormConversion.Convert(post)).Message);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void CompressedModel_GivesTheSameLogits_WithAResidualStreamOneNarrower(ScalarType dtype)
    {
        var tolerance = WidthSum(dtype);
        using var scope = NewDisposeScope();
        var preRms = PreRmsNormConversion.Convert(PreLnWithTrainedLookingNorms(dtype));
        var compressed = PreCrmsNormConversion.Convert(preRms);
        var tokens = randint(0, 13, [4, 16], dtype: ScalarType.Int64, generator: new Generator(3));
        Tolerances.AssertClose(preRms.forward(tokens), compressed.forward(tokens), tolerance, tolerance, what: "Pre-CRMSNorm logits vs Pre-RMSNorm");
        Assert.Equal([13L, 31L], compressed.named_parameters().Single(p => p.name == "tok_emb").parameter.shape);
        Assert.Contains("mean-free writers", Assert.Throws<ArgumentException>(() => PreCrmsNormConversion.Convert(
            new CharTransformer(new TransformerConfig(13, Width: 32, Depth: 1, Heads: 4, Context: 16, Norm: "rmsnorm")))).Message);
    }

    [Fact]
    public void PreRmsNormWithCentredWriters_TrainsExactlyLikePreLn()
    {
        // Same parameters, same gradients: LN(x) = RMSNorm(Px) and every read of the stream goes through a norm, so the loss curves coincide.
        var data = new NormNotebooks.Data.CharDataset(Enumerable.Range(0, 10).Select(i => string.Concat(Enumerable.Repeat($"abc {i} def ", 30))).ToList(), validationEvery: 5);
        manual_seed(4);
        var init = new CharTransformer(new TransformerConfig(data.VocabularySize, Width: 16, Depth: 2, Heads: 2, Context: 16)).state_dict();
        TrainingResult Train(TransformerConfig config)
        {
            var model = new CharTransformer(config);
            model.load_state_dict(init);   // the same initial weights under the same names
            model.to(ScalarType.Float64);
            return LanguageModelTrainer.Train("eq", model, data, new TrainingConfig(20, BatchSize: 4, Context: 16, LearningRate: 3e-3, WarmupSteps: 2, EvaluationBatches: 1));
        }
        var config = new TransformerConfig(data.VocabularySize, Width: 16, Depth: 2, Heads: 2, Context: 16);
        var preLn = Train(config);
        var preRms = Train(config with { Norm = "rmsnorm-affine", CentredWriters = true });
        var worst = preLn.Steps.Zip(preRms.Steps, (a, b) => Math.Abs(a.Loss - b.Loss)).Max();
        // Measured 8.9e-16, a few ulps of a loss near 2.6, over the 20 steps; 1e-9 leaves room for rounding differences growing with training.
        const double trainingDrift = 1e-9;
        Assert.True(worst < trainingDrift, $"largest per-step loss difference {worst:E2}");
        Assert.Throws<ArgumentException>(() => new CharTransformer(config with { Placement = NormPlacement.PostLN, CentredWriters = true }));
    }
}
