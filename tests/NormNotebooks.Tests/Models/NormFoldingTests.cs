// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class NormFoldingTests
{
    // A model whose norms have left their initial state: several training steps move the running statistics, then γ, β, η and the
    // biases get non-trivial values, as after training.
    private static CharTransformer Trained(string norm, ScalarType dtype)
    {
        manual_seed(5);
        var model = new CharTransformer(new TransformerConfig(13, Width: 32, Depth: 2, Heads: 4, Context: 16, Norm: norm, NormWarmup: 2, NormDecay: 3, NormGate: 4));
        model.to(dtype);
        model.train();
        for (var step = 0; step < 8; step++)
        {
            using var scope = NewDisposeScope();
            model.zero_grad();
            model.forward(randint(0, 13, [4, 16], dtype: ScalarType.Int64, generator: new Generator((ulong)step))).square().mean().backward();
        }
        using (no_grad())
        {
            foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.Contains("norm") || p.name.EndsWith(".bias", StringComparison.Ordinal)))
                parameter.copy_(Inputs.Random(parameter.shape, dtype, seed: name.Length + 7, mean: name.EndsWith("weight", StringComparison.Ordinal) ? 1 : 0, scale: 0.3));
        }
        model.eval();
        return model;
    }

    [Theory]
    [InlineData("unified-norm", ScalarType.Float64)]
    [InlineData("unified-norm-m1", ScalarType.Float64)]
    [InlineData("batchnorm", ScalarType.Float64)]
    [InlineData("repbn", ScalarType.Float64)]
    [InlineData("prepbn", ScalarType.Float64)]
    [InlineData("unified-norm", ScalarType.Float32)]
    [InlineData("repbn", ScalarType.Float32)]
    public void FoldedModel_GivesTheEvaluationLogits(string norm, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var model = Trained(norm, dtype);
        var folded = NormFolding.Fold(model);
        var tokens = randint(0, 13, [3, 16], dtype: ScalarType.Int64, generator: new Generator(9));
        using var _ = no_grad();
        var expected = model.forward(tokens);
        var tolerance = dtype == ScalarType.Float64 ? 1e-10 : 1e-5;
        Tolerances.AssertClose(expected, folded.forward(tokens), tolerance, tolerance, what: $"folded {norm} logits vs evaluation mode");
        Assert.Equal("none", folded.Config.Norm);
        Assert.DoesNotContain(folded.named_parameters(), p => p.name.Contains("norm"));
        Assert.Equal(dtype, folded.parameters().First().dtype);
    }

    [Fact]
    public void FoldedModel_LeavesTheSourceUntouched()
    {
        using var scope = NewDisposeScope();
        var model = Trained("repbn", ScalarType.Float64);
        var before = model.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        NormFolding.Fold(model);
        foreach (var (name, tensor) in model.state_dict())
            Assert.True(tensor.eq(before[name]).all().item<bool>(), $"{name} changed");
    }

    [Fact]
    public void AffineOf_IsTheEvaluationMap()
    {
        using var scope = NewDisposeScope();
        var model = Trained("batchnorm", ScalarType.Float64);
        var norm = model.Blocks[1].InputNorms.Mlp;
        var (scale, shift) = NormFolding.AffineOf(norm);
        var x = randn([5, 32], dtype: ScalarType.Float64, generator: new Generator(3));
        Tolerances.AssertClose(norm.forward(x), x * scale + shift, 1e-12, 1e-12, what: "a·x + c vs BatchNorm in evaluation");
    }

    [Theory]
    [InlineData("layernorm")]
    [InlineData("rmsnorm")]
    [InlineData("powernorm")]
    public void TokenDependentNorms_DoNotFold(string norm)
    {
        var model = new CharTransformer(new TransformerConfig(13, Width: 16, Depth: 1, Heads: 2, Context: 8, Norm: norm));
        Assert.Contains("no fixed per-feature inference map", Assert.Throws<ArgumentException>(() => NormFolding.Fold(model)).Message);
    }

    [Fact]
    public void OnlyPreLnModels_Fold()
    {
        var post = new CharTransformer(new TransformerConfig(13, Width: 16, Depth: 1, Heads: 2, Context: 8, Norm: "batchnorm", Placement: NormPlacement.PostLN));
        Assert.Contains("needs a Pre-LN model", Assert.Throws<ArgumentException>(() => NormFolding.Fold(post)).Message);
    }

    [Fact]
    public void ConfigPassesTheScheduleOptions_ToTheNorms()
    {
        var prepbn = (ProgressiveRepBatchNorm)new CharTransformer(new TransformerConfig(13, Width: 16, Depth: 1, Heads: 2, Context: 8, Norm: "prepbn", NormWarmup: 5, NormDecay: 7)).FinalNorm;
        Assert.Equal((5L, 7L), (prepbn.WarmSteps, prepbn.DecaySteps));
        var un = (UnifiedNorm)new CharTransformer(new TransformerConfig(13, Width: 16, Depth: 1, Heads: 2, Context: 8, Norm: "unified-norm-m1", NormWarmup: 20, NormGate: 30)).FinalNorm;
        Assert.Equal((1, 20L, 30L, false), (un.WindowSize, un.WarmupIterations, un.RhoGateIterations, un.OutlierFiltration));
        var filtered = (UnifiedNorm)NormFactory.Create("unified-norm-filtered", 8, new NormOptions { WarmupIterations = 10 });
        Assert.Equal((4, 1000L, true), (filtered.WindowSize, filtered.RhoGateIterations, filtered.OutlierFiltration));
    }
}
