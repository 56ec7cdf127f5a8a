// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class RepBatchNormTests
{
    private static RepBatchNorm Trained()
    {
        var norm = new RepBatchNorm(6, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.Norm.Weight!.copy_(Inputs.Random([6], ScalarType.Float64, seed: 2));
            norm.Norm.Bias!.copy_(Inputs.Random([6], ScalarType.Float64, seed: 3));
            norm.Eta.fill_(0.7);
        }
        for (var i = 0; i < 5; i++)
            norm.forward(Inputs.Random([4, 5, 6], ScalarType.Float64, seed: 10 + i));
        norm.eval();
        return norm;
    }

    [Fact]
    public void Eval_EqualsTheFoldedAffine_AndFoldsIntoTheNextLinear()
    {
        using var scope = NewDisposeScope();
        var norm = Trained();
        var x = Inputs.Random([3, 5, 6], ScalarType.Float64, seed: 30);
        var (scale, shift) = norm.Folded();
        // No reduction: evaluation BN plus ηx, and the folded map, each round about six operations per element.
        Tolerances.AssertCloseNormwise(x * scale + shift, norm.forward(x), Tolerances.Float64Sum(6), what: "Eq. (4)");
        var weight = Inputs.Random([4, 6], ScalarType.Float64, seed: 31);
        var bias = Inputs.Random([4], ScalarType.Float64, seed: 32);
        var (w, b) = Reparameterize.FoldIntoLinear(scale, shift, weight, bias);
        Tolerances.AssertCloseNormwise(nn.functional.linear(norm.forward(x), weight, bias), nn.functional.linear(x, w, b), Tolerances.Float64Sum(6 + 6),
            what: "fused == unfused (float64)");   // and the linear layer's sum over d = 6

        var x32 = x.to(float32);
        var fused32 = nn.functional.linear(x32, w.to(float32), b.to(float32));
        Tolerances.AssertClose(nn.functional.linear(norm.forward(x).to(float32), weight.to(float32), bias.to(float32)), fused32, Tolerances.Float32, Tolerances.Float32, what: "fused == unfused (float32)");
    }

    [Fact]
    public void Training_IsBatchNormPlusEtaTimesX()
    {
        using var scope = NewDisposeScope();
        var norm = new RepBatchNorm(5, dtype: ScalarType.Float64);
        var x = Inputs.Random([4, 3, 5], ScalarType.Float64);
        var expected = new BatchNorm(5, channelsLast: true, dtype: ScalarType.Float64).forward(x) + x;
        Tolerances.AssertClose(expected, norm.forward(x), Tolerances.Float64);
    }

    [Fact]
    public void Progressive_StartsAsLayerNorm_DecaysLinearly_AndEndsAsRepBn()
    {
        using var scope = NewDisposeScope();
        var norm = new ProgressiveRepBatchNorm(6, warmSteps: 2, decaySteps: 4, dtype: ScalarType.Float64);
        var x = Inputs.Random([4, 3, 6], ScalarType.Float64);
        var layerNorm = new LayerNorm(6, 1e-6, dtype: ScalarType.Float64);
        Tolerances.AssertClose(layerNorm.forward(x), norm.forward(x), Tolerances.Float64, what: "warm step 1: LN only");
        Assert.Equal(0, norm.RepBatchNorm.Norm.RunningMean.abs().sum().item<double>());   // BN untouched while warm
        norm.forward(x);
        var lambdas = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            lambdas.Add(norm.Lambda);
            norm.forward(x);
        }
        Assert.Equal([1.0, 0.75, 0.5, 0.25, 0.0, 0.0], lambdas);
        norm.eval();
        Tolerances.AssertClose(norm.RepBatchNorm.forward(x), norm.forward(x), Tolerances.Float64, what: "eval = RepBN");
    }
}
