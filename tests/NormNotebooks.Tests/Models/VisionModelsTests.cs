// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class VisionModelsTests
{
    [Theory]
    [InlineData("batchnorm", false)]
    [InlineData("groupnorm", true)]
    [InlineData("evonorm-b0", false)]
    [InlineData("evonorm-s0", false)]
    [InlineData("bcn-estimated", true)]
    [InlineData("none", false)]
    public void SmallCnn_GivesLogitsFor28x28Images_WithAnyChannelNorm(string norm, bool weightStandardization)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var model = new SmallCnn(norm: norm, weightStandardization: weightStandardization);
        var logits = model.forward(randn(4, 1, 28, 28));
        Assert.Equal([4L, 10], logits.shape);
        logits.sum().backward();
        Assert.Contains(model.parameters(), p => p.grad is not null);
        if (weightStandardization)
            Assert.Contains(model.modules(), m => m is WeightStandardizedConv2d);
        Assert.Throws<ArgumentException>(() => model.forward(randn(4, 3, 28, 28)));
    }

    [Fact]
    public void Mlp_FlattensImages_AndSeluUsesLecunNormalWeights()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var mlp = new Mlp(784, 10, width: 512, depth: 2, activation: "selu", dropout: 0.05);
        Assert.Equal([5L, 10], mlp.forward(randn(5, 1, 28, 28)).shape);
        var first = mlp.named_parameters().First(p => p.name == "layers.fc0.weight").parameter;
        // LeCun normal: the sample std of n draws from N(0, 1/784) has relative standard error 1/√(2n).
        var relativeBar = Tolerances.StandardErrors / Math.Sqrt(2.0 * first.numel());
        Assert.InRange(first.std().item<float>() * Math.Sqrt(784), 1 - relativeBar, 1 + relativeBar);
        Assert.Contains(mlp.modules(), m => m is NormNotebooks.Norms.AlphaDropout);
        Assert.Contains("Unknown activation 'swishy'", Assert.Throws<ArgumentException>(() => new Mlp(4, 2, activation: "swishy")).Message);
    }

    [Fact]
    [Trait("Category", "Data")]
    public void SmallCnn_LearnsFashionMnist_InAFewSteps()
    {
        var (train, _) = TestData.FashionMnistData;
        using var scope = NewDisposeScope();
        manual_seed(3);
        var (images, labels) = train.ToTensors(count: 2048);
        var model = new SmallCnn(norm: "batchnorm", widths: [16, 32, 32]);
        var optimizer = optim.Adam(model.parameters(), 3e-3);
        var losses = new List<float>();
        for (var step = 0; step < 80; step++)
        {
            using var stepScope = NewDisposeScope();
            var index = randint(0, 2048, [64], dtype: ScalarType.Int64);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(images[index]), labels[index]);
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
        }
        Assert.True(losses.TakeLast(5).Average() < 0.6 * losses.Take(5).Average(), $"loss {losses[0]:F3} → {losses[^1]:F3}");   // measured ratio 0.48
    }

    [Theory]
    [InlineData("he", 2.0)]
    [InlineData("lecun", 1.0)]
    public void Mlp_InitsHiddenWeightsAtTheNamedVariance_WithZeroBiases(string init, double gain)
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var mlp = new Mlp(400, 10, width: 300, depth: 3, activation: "relu", init: init);
        foreach (var (name, p) in mlp.named_parameters().Where(p => !p.name.StartsWith("layers.head", StringComparison.Ordinal)))
        {
            if (name.EndsWith("bias", StringComparison.Ordinal))
            {
                Assert.Equal(0, p.abs().max().item<float>());
                continue;
            }
            // n draws of N(0, σ²): the sample variance has standard error σ²√(2/n).
            var (fanIn, target) = (p.shape[1], gain / p.shape[1]);
            var bar = Tolerances.StandardErrors * target * Math.Sqrt(2.0 / p.numel());
            Assert.InRange(p.to(float64).var().item<double>(), target - bar, target + bar);
            Assert.True(fanIn is 400 or 300);
        }
        Assert.Contains("Unknown init 'xavier'", Assert.Throws<ArgumentException>(() => new Mlp(4, 2, init: "xavier")).Message);
    }

    [Fact]
    public void Mlp_HiddenOutputs_AreWhatTheHeadReads()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var mlp = new Mlp(784, 10, width: 32, depth: 4, norm: "layernorm", activation: "tanh");
        var x = randn(8, 1, 28, 28);
        var hidden = mlp.HiddenOutputs(x);
        Assert.Equal(4, mlp.Depth);
        Assert.Equal(4, hidden.Count);
        Assert.All(hidden, h => Assert.Equal([8L, 32], h.shape));
        var head = mlp.named_modules().Single(m => m.name == "layers.head").module as nn.Module<Tensor, Tensor>;
        Assert.True(head!.forward(hidden[^1]).allclose(mlp.forward(x), rtol: 0, atol: 0));
        Assert.True(hidden.All(h => h.abs().max().item<float>() <= 1));   // tanh outputs
    }

    [Theory]
    [InlineData("none")]
    [InlineData("layernorm")]
    [InlineData("batchnorm")]
    public void RowGru_ReadsRows_AndClassifies_WithAnyNormPerStep(string norm)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var model = new RowGru(hidden: 16, norm: norm);
        var images = randn(5, 1, 28, 28);
        var logits = model.forward(images);
        Assert.Equal([5L, 10], logits.shape);
        logits.sum().backward();
        Assert.All(model.parameters(), p => Assert.NotNull(p.grad));
        Assert.Throws<ArgumentException>(() => model.forward(randn(5, 1, 27, 28)));
        Assert.Throws<ArgumentException>(() => new RowGru(norm: "nonorm"));
    }

    [Fact]
    public void RowGru_WithLayerNorm_GivesAnImageTheSameLogitsAloneAsInABatch_InTraining()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var model = new RowGru(hidden: 16, norm: "layernorm");
        model.train();
        var images = randn(6, 1, 28, 28);
        var batch = model.forward(images);
        var alone = model.forward(images.narrow(0, 2, 1));
        Assert.True(alone.allclose(batch.narrow(0, 2, 1), rtol: 0, atol: 1e-6));
        var bn = new RowGru(hidden: 16, norm: "batchnorm");
        bn.train();
        Assert.False(bn.forward(images.narrow(0, 0, 2)).narrow(0, 0, 1).allclose(bn.forward(images).narrow(0, 0, 1), rtol: 0, atol: 1e-3));
    }

    [Fact]
    public void RowGru_PermutationSeed_ShufflesPixelsTheSameWayForEveryImage()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var plain = new RowGru(hidden: 8);
        manual_seed(9);
        var permuted = new RowGru(hidden: 8, permutationSeed: 3);
        var images = randn(2, 1, 28, 28);
        Assert.False(plain.forward(images).allclose(permuted.forward(images), rtol: 0, atol: 1e-4));
        // The same weights on pre-permuted images: the permutation is a fixed reindexing of the 784 pixels.
        var order = randperm(784, generator: new TorchSharp.torch.Generator(3));
        var shuffled = images.reshape(2, 784).index_select(1, order).view(2, 1, 28, 28);
        Assert.True(plain.forward(shuffled).allclose(permuted.forward(images), rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void SmallCnn_PassesItsGroupsAndGhostBatchSizeToTheNorms()
    {
        using var scope = NewDisposeScope();
        var gn = new SmallCnn(norm: "groupnorm", widths: [16, 32], groups: 4);
        Assert.All(gn.modules().OfType<GroupNorm>(), g => Assert.Equal(4, g.Groups));
        var s0 = new SmallCnn(norm: "evonorm-s0", widths: [16, 32], groups: 4);
        Assert.All(s0.modules().OfType<EvoNormS0>(), g => Assert.Equal(4, g.Groups));
        Assert.Equal(2, s0.modules().OfType<EvoNormS0>().Count());
        Assert.Equal(16, new SmallCnn(norm: "evonorm-s0", widths: [16, 32]).modules().OfType<EvoNormS0>().First().Groups);   // official rule: 32 → 16 for 16 channels
        var ghost = new SmallCnn(norm: "ghost-batchnorm", widths: [16, 32], virtualBatchSize: 8);
        Assert.Equal(2, ghost.modules().OfType<GhostBatchNorm>().Count());
        Assert.All(ghost.modules().OfType<GhostBatchNorm>(), g => Assert.Equal(8, g.VirtualBatchSize));
        Assert.All(new SmallCnn(norm: "ghost-batchnorm", widths: [16]).modules().OfType<GhostBatchNorm>(), g => Assert.Equal(128, g.VirtualBatchSize));
    }

    [Fact]
    public void SmallCnn_BlockOutputs_AreEachBlocksActivation_AndLeadToTheLogits()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var model = new SmallCnn(norm: "groupnorm", widths: [8, 16, 16], groups: 4);
        model.eval();
        var x = randn(3, 1, 28, 28);
        var blocks = model.BlockOutputs(x);
        Assert.Equal([new long[] { 3, 8, 28, 28 }, [3, 16, 14, 14], [3, 16, 7, 7]], blocks.Select(b => b.shape).ToArray());
        Assert.All(blocks, b => Assert.True(b.min().item<float>() >= 0));          // after the ReLU
        var head = (nn.Module<Tensor, Tensor>)model.named_children().Single(c => c.name == "head").module;
        Assert.True(head.forward(blocks[^1].mean([2L, 3L])).allclose(model.forward(x), rtol: 0, atol: 1e-6));
        Assert.Throws<ArgumentException>(() => model.BlockOutputs(randn(3, 28, 28)));
    }
}
