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
}
