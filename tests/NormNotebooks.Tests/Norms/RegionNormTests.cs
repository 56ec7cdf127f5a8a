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
            Tolerances.AssertCloseNormwise(expected, inside[.., c].unsqueeze(1), Tolerances.Float64Sum(3 * 3 * 3), what: $"channel {c} inside");   // the 27 hole values
        }
        Tolerances.AssertClose(zeros_like(x), inside * (1 - mask), Tolerances.Exact, what: "zero outside its region");
        Tolerances.AssertClose(zeros_like(x), outside * mask, Tolerances.Exact, what: "zero inside the other region");
    }

    [Fact]
    public void AllOnesMask_IsBatchNorm_AndRnBStartsAsTheIdentityAffine()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([3, 2, 6, 6], ScalarType.Float64);
        var (inside, _) = RegionStatistics.Normalize(x, ones(3, 1, 6, 6, dtype: float64));
        Tolerances.AssertCloseNormwise(nn.functional.batch_norm(x, null, null, training: true), inside, Tolerances.Float64Sum(3 * 6 * 6));   // over N·H·W
        var norm = new RegionNormB(2, dtype: ScalarType.Float64);
        var (a, b) = RegionStatistics.Normalize(x, Mask());
        Tolerances.AssertClose(a + b, norm.forward(x, Mask()), Tolerances.Float64);
    }

    // The official rn.py's operations (RN_binarylabel.rn, lines 24–38): fill the rest of the map with the region's mean,
    // batch-normalise the whole map (BatchNorm2d, no affine, batch statistics, ε = 1e-5), rescale by √(S_r/NHW).
    private static Tensor OfficialRegionNorm(Tensor region, Tensor mask)
    {
        var sum = region.sum([0L, 2L, 3L]);
        var size = mask.sum([0L, 2L, 3L]);
        size = where(size.eq(0), ones_like(size), size);
        var mean = sum / size;
        var filled = region + (1 - mask) * mean.view(1, -1, 1, 1);
        var total = region.shape[0] * region.shape[2] * region.shape[3];
        return nn.functional.batch_norm(filled, null, null, training: true, eps: 1e-5) * (size / total).sqrt().view(1, -1, 1, 1);
    }

    // rn.py RN_B.forward (lines 60–69): nearest-resized mask, both regions normalised, each region scaled by its 1 + γ,
    // and both β added everywhere.
    private static Tensor OfficialRnB(Tensor x, Tensor mask, Tensor gammaF, Tensor betaF, Tensor gammaB, Tensor betaB)
    {
        mask = nn.functional.interpolate(mask, size: [x.shape[2], x.shape[3]], mode: InterpolationMode.Nearest);
        var normalized = OfficialRegionNorm(x * mask, mask) + OfficialRegionNorm(x * (1 - mask), 1 - mask);
        Tensor PerChannel(Tensor p) => p.view(1, -1, 1, 1);
        return normalized * mask * (1 + PerChannel(gammaF)) + PerChannel(betaF) + normalized * (1 - mask) * (1 + PerChannel(gammaB)) + PerChannel(betaB);
    }

    private static RegionNormB TrainedRnB(bool maskedBeta)
    {
        var norm = new RegionNormB(4, maskedBeta: maskedBeta, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.ForegroundGamma.copy_(Inputs.Random([4], ScalarType.Float64, seed: 21, mean: 0.2, scale: 0.5));
            norm.ForegroundBeta.copy_(Inputs.Random([4], ScalarType.Float64, seed: 22, mean: -0.3, scale: 0.5));
            norm.BackgroundGamma.copy_(Inputs.Random([4], ScalarType.Float64, seed: 23, mean: 0.1, scale: 0.5));
            norm.BackgroundBeta.copy_(Inputs.Random([4], ScalarType.Float64, seed: 24, mean: 0.4, scale: 0.5));
        }
        return norm;
    }

    // A hole at twice the feature resolution (so the nearest resize matters), and a mask with no hole at all (an empty region).
    public static TheoryData<bool> HoleOrNone => [true, false];

    private static Tensor FullResolutionMask(bool hole)
    {
        var mask = zeros(3, 1, 12, 10, dtype: float64);
        if (hole)
            mask[.., .., 3..9, 2..7] = 1;
        return mask;
    }

    [Theory]
    [MemberData(nameof(HoleOrNone))]
    public void RnB_MatchesTheOfficialOperations_WithBothBetasEverywhere_InFloat64(bool hole)
    {
        using var scope = NewDisposeScope();
        var norm = TrainedRnB(maskedBeta: false);
        var x = Inputs.Random([3, 4, 6, 5], ScalarType.Float64, seed: 5).requires_grad_();
        var mask = FullResolutionMask(hole);
        var expected = OfficialRnB(x, mask, norm.ForegroundGamma, norm.ForegroundBeta, norm.BackgroundGamma, norm.BackgroundBeta);
        var output = norm.forward(x, mask);
        Tolerances.AssertClose(expected, output, Tolerances.Float64, what: "output");

        var probe = Inputs.Random([3, 4, 6, 5], ScalarType.Float64, seed: 6);
        var expectedGrad = autograd.grad([(expected * probe).sum()], [x])[0];
        var grad = autograd.grad([(output * probe).sum()], [x])[0];
        Tolerances.AssertClose(expectedGrad, grad, Tolerances.Float64, what: "∂/∂x");
    }

    [Fact]
    public void RnB_MaskedBeta_ShiftsEachRegionByItsOwnBetaOnly()
    {
        using var scope = NewDisposeScope();
        var official = TrainedRnB(maskedBeta: false);
        var masked = TrainedRnB(maskedBeta: true);
        var x = Inputs.Random([3, 4, 6, 5], ScalarType.Float64, seed: 5);
        var mask = FullResolutionMask(hole: true);
        var resized = nn.functional.interpolate(mask, size: [6, 5], mode: InterpolationMode.Nearest);
        var betaF = masked.ForegroundBeta.detach().view(1, -1, 1, 1);
        var betaB = masked.BackgroundBeta.detach().view(1, -1, 1, 1);
        // Official minus masked: the foreground also gets β_b, the background also gets β_f.
        var expectedDifference = (betaB * resized + betaF * (1 - resized)).expand(3, 4, 6, 5);
        Tolerances.AssertClose(expectedDifference, official.forward(x, mask) - masked.forward(x, mask), Tolerances.Float64, what: "official − masked");
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
