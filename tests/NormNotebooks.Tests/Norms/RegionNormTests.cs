// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class RegionNormTests
{
    private static Tensor Mask()
    {
        var mask = zeros(3, 1, 6, 6, dtype: float64);
        mask[.., .., 1..4, 2..5] = 1;   // a rectangular hole per image
        return mask;
    }

    [Fact]
    public void RegionStatistics_EqualADirectMaskedComputation()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([3, 2, 6, 6], ScalarType.Float64);
        var mask = Mask();
        var (inside, outside) = RegionStatistics.Normalize(x, mask, eps: 0);
        for (var c = 0; c < 2; c++)
        {
            var channel = x[.., c].unsqueeze(1);
            var values = channel.masked_select(mask.to(ScalarType.Bool));
            var expected = (channel - values.mean()) / values.var([0L], unbiased: false).sqrt() * mask;
            Tolerances.AssertClose(expected, inside[.., c].unsqueeze(1), 1e-10, what: $"channel {c} inside");
        }
        Tolerances.AssertClose(zeros_like(x), inside * (1 - mask), 0, what: "zero outside its region");
        Tolerances.AssertClose(zeros_like(x), outside * mask, 0, what: "zero inside the other region");
    }

    [Fact]
    public void AllOnesMask_IsBatchNorm_AndRnBStartsAsTheIdentityAffine()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([3, 2, 6, 6], ScalarType.Float64);
        var (inside, _) = RegionStatistics.Normalize(x, ones(3, 1, 6, 6, dtype: float64));
        Tolerances.AssertClose(nn.functional.batch_norm(x, null, null, training: true), inside, 1e-10);
        var norm = new RegionNormB(2, dtype: ScalarType.Float64);
        var (a, b) = RegionStatistics.Normalize(x, Mask());
        Tolerances.AssertClose(a + b, norm.forward(x, Mask()), Tolerances.Float64);
    }

    [Fact]
    public void EmptyRegion_GivesNoNaN()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([2, 2, 4, 4], ScalarType.Float64);
        var (inside, outside) = RegionStatistics.Normalize(x, zeros(2, 1, 4, 4, dtype: float64));
        Assert.False(inside.isnan().any().item<bool>());
        Assert.Equal(0, inside.abs().sum().item<double>());
        Assert.False(outside.isnan().any().item<bool>());
    }

    [Fact]
    public void RnL_LearnsItsImportanceMapOnlyThroughTheAffine()
    {
        using var scope = NewDisposeScope();
        var norm = new RegionNormL(3, dtype: ScalarType.Float64);
        var x = Inputs.Random([2, 3, 8, 8], ScalarType.Float64);
        var parameters = norm.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
        {
            foreach (var name in new[] { "gamma.weight", "gamma.bias", "beta.weight", "beta.bias" })
                parameters[name].zero_();
        }
        norm.forward(x).square().sum().backward();
        var importanceGrad = parameters["importance.weight"].grad;
        Assert.True(importanceGrad is null || importanceGrad.abs().sum().item<double>() == 0, "with a zero affine no gradient reaches the importance conv");
        Assert.True(parameters["gamma.weight"].grad!.abs().sum().item<double>() > 0);
    }
}
