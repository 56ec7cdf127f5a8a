// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Tests.Support;
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

    [Theory]
    [InlineData(ScalarType.Float64, 1e-10)]
    [InlineData(ScalarType.Float32, 1e-4)]
    public void ConvertedModel_GivesTheSameLogits(ScalarType dtype, double tolerance)
    {
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
        Assert.True(worst < 1e-10, $"|mean| / rms of the residual stream reached {worst:E2}");
    }

    [Fact]
    public void OnlyPreLnLayerNormModels_Convert()
    {
        var post = new CharTransformer(new TransformerConfig(13, Width: 16, Depth: 1, Heads: 2, Context: 8, Placement: NormPlacement.PostLN));
        Assert.Contains("needs a Pre-LN LayerNorm model", Assert.Throws<ArgumentException>(() => PreRmsNormConversion.Convert(post)).Message);
    }
}
