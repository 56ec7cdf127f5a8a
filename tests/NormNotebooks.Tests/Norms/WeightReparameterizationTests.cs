// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class WeightReparameterizationTests
{
    [Theory]
    [InlineData(StandardizationVariance.UnbiasedEpsInside)]
    [InlineData(StandardizationVariance.UnbiasedEpsOutside)]
    [InlineData(StandardizationVariance.PopulationEpsOutside)]
    public void Standardize_GivesZeroMeanUnitVariancePerOutputChannel(StandardizationVariance variance)
    {
        using var scope = NewDisposeScope();
        var weight = Inputs.Random([6, 3, 3, 3], ScalarType.Float64);
        var standardized = WeightStandardization.Standardize(weight, variance, eps: 0).reshape(6, -1);
        Tolerances.AssertClose(zeros(6, dtype: float64), standardized.mean([1L]), Tolerances.Float64, what: "mean");
        var unbiased = variance != StandardizationVariance.PopulationEpsOutside;
        Tolerances.AssertClose(ones(6, dtype: float64), standardized.var([1L], unbiased: unbiased), Tolerances.Float64Sum(2 * 27), what: "variance");   // two variances of the fan-in
    }

    [Fact]
    public void WsConv_IsInvariantToAPerChannelAffineOfItsWeights_AndItsGradientIsOrthogonalToBoth()
    {
        using var scope = NewDisposeScope();
        var conv = new WeightStandardizedConv2d(3, 4, 3, padding: 1, eps: 0, dtype: ScalarType.Float64);
        var x = Inputs.Random([2, 3, 5, 5], ScalarType.Float64);
        var before = conv.forward(x);
        using (no_grad())
            conv.Weight.mul_(Inputs.Random([4, 1, 1, 1], ScalarType.Float64, seed: 3, mean: 2, scale: 0.5).abs()).add_(Inputs.Random([4, 1, 1, 1], ScalarType.Float64, seed: 4));
        // The standardisation and the convolution each sum the 27-value fan-in.
        Tolerances.AssertCloseNormwise(before, conv.forward(x), Tolerances.Float64Sum(2 * 27), what: "W_o → a_o W_o + b_o");

        conv.forward(x).square().sum().backward();
        var grad = conv.Weight.grad!.reshape(4, -1);
        var w = conv.Weight.detach().reshape(4, -1);
        // Measured: a row's 27 gradient entries add up to 6.3e4 in absolute value, and the two sums come to 2.4e-10 and 1.1e-10; the bar is
        // 4× the larger, 1.6e-14 of that magnitude (Float64Sum(72)).
        const double orthogonality = 1e-9;
        Tolerances.AssertClose(zeros(4, dtype: float64), grad.sum([1L]), orthogonality, what: "⟨∂L/∂W_o, 1⟩");
        Tolerances.AssertClose(zeros(4, dtype: float64), (grad * (w - w.mean([1L], keepdim: true))).sum([1L]), orthogonality, what: "⟨∂L/∂W_o, W_o − mean⟩");
    }

    [Fact]
    public void WsLinear_UsesStandardizedRows()
    {
        using var scope = NewDisposeScope();
        var linear = new WeightStandardizedLinear(7, 3, dtype: ScalarType.Float64);
        var x = Inputs.Random([4, 7], ScalarType.Float64);
        var expected = x.matmul(WeightStandardization.Standardize(linear.Weight.detach()).t()) + linear.Bias!.detach();
        Tolerances.AssertClose(expected, linear.forward(x), Tolerances.Float64);
    }

    [Fact]
    public void ScaledWs_MatchesTheNfNetsFormula_WithTheVarianceFloor()
    {
        using var scope = NewDisposeScope();
        var conv = new ScaledWSConv2d(2, 3, 3, dtype: ScalarType.Float64);
        var w = conv.Weight.detach().reshape(3, -1);
        var expected = (w - w.mean([1L], keepdim: true)) / (w.var([1L], unbiased: false, keepdim: true) * 18).clamp_min(1e-4).sqrt();
        Tolerances.AssertClose(expected.reshape(3, 2, 3, 3), conv.StandardizedWeight(), Tolerances.Float64);
        using (no_grad())
            conv.Weight.mul_(1e-6);   // n·σ² far below the floor: the floor, not the data, sets the scale
        var floored = conv.StandardizedWeight().reshape(3, -1);
        Tolerances.AssertClose((conv.Weight.detach().reshape(3, -1) - conv.Weight.detach().reshape(3, -1).mean([1L], keepdim: true)) / 1e-2, floored, Tolerances.Float64);
        // The official constant is an empirical estimate of √(2/(1 − 1/π)) = 1.71285, 1.1e-3 above it: equal to 2 decimals.
        const int officialEstimateDecimals = 2;
        Assert.Equal(ActivationGains.Relu, Math.Sqrt(2 / (1 - 1 / Math.PI)), officialEstimateDecimals);
    }

    [Fact]
    public void SpectralNorm_PowerIteration_ConvergesToTheTopSingularValue_AndEvalUsesTheStoredEstimate()
    {
        using var scope = NewDisposeScope();
        manual_seed(21);   // power iteration converges as (σ₂/σ₁)^k: a fixed matrix keeps the test deterministic
        var layer = SpectralNorm.Linear(12, 8, iterations: 1, dtype: ScalarType.Float64);
        var x = Inputs.Random([3, 12], ScalarType.Float64);
        for (var i = 0; i < 100; i++)
            layer.forward(x);
        var top = linalg.svdvals(layer.Weight.detach())[0].item<double>();
        var bound = PowerIterationError(layer.Weight, steps: 100);
        Assert.True(Math.Abs(layer.SigmaEstimate() - top) <= bound * top, $"estimate {layer.SigmaEstimate()} vs SVD {top}");
        Assert.Equal(1.0, linalg.svdvals(layer.NormalizedWeight().detach())[0].item<double>(), bound);

        layer.eval();
        var estimate = layer.SigmaEstimate();
        using (no_grad())
            layer.Weight.mul_(3);
        layer.forward(x);
        Assert.Equal(3 * estimate, layer.SigmaEstimate(), 3 * estimate * Tolerances.Float64Sum(12 + 8));   // eval: no power-iteration step moved u, v
    }

    /// <summary>
    /// Relative error of σ after <paramref name="steps"/> power-iteration steps on W: (σ₂/σ₁)^(2k) from convergence, 2δ/σ₁ from the
    /// δ = 1e-12 in each of the two normalisations (as the SN-GAN code and PyTorch), which shrink u and v by δ/σ₁ each, and the rounding of
    /// uᵀWv over W's entries.
    /// </summary>
    private static double PowerIterationError(Tensor weight, int steps)
    {
        using var scope = NewDisposeScope();
        var singular = linalg.svdvals(weight.detach().reshape(weight.shape[0], -1));
        var (largest, second) = (singular[0].item<double>(), singular[1].item<double>());
        return Math.Pow(second / largest, 2 * steps) + 2 * 1e-12 / largest + Tolerances.Float64Sum(weight.numel());
    }

    [Fact]
    public void SpectralNorm_Conv_UsesTheReshapedMatrix()
    {
        using var scope = NewDisposeScope();
        manual_seed(22);   // as above: the gap σ₂/σ₁ of a random 5×27 matrix can be small, so fix the matrix and iterate enough
        var conv = SpectralNorm.Conv2d(3, 5, 3, padding: 1, iterations: 200, dtype: ScalarType.Float64);
        conv.forward(Inputs.Random([1, 3, 4, 4], ScalarType.Float64));
        var top = linalg.svdvals(conv.Weight.detach().reshape(5, -1))[0].item<double>();
        Assert.True(Math.Abs(conv.SigmaEstimate() - top) <= PowerIterationError(conv.Weight, steps: 200) * top);
    }

    [Fact]
    public void SigmaReparam_StartsAtTheRawWeight_AndItsSpectralNormIsGamma()
    {
        using var scope = NewDisposeScope();
        manual_seed(23);
        var layer = new SigmaReparamLinear(16, 10, dtype: ScalarType.Float64);
        // γ = σ(W₀) from the SVD, σ from one power step off its exact singular vector: sums over in = 16 and out = 10.
        Tolerances.AssertCloseNormwise(layer.Weight.detach(), layer.ReparameterizedWeight().detach(), Tolerances.Float64Sum(16 + 10), what: "Ŵ = W at init");
        using (no_grad())
            layer.Gamma.fill_(2.5);
        for (var i = 0; i < 50; i++)
            layer.ReparameterizedWeight();
        // u starts at W₀'s exact right singular vector and W never changes: the estimate is converged from the first step, up to rounding.
        Assert.Equal(2.5, linalg.svdvals(layer.ReparameterizedWeight().detach())[0].item<double>(), 2.5 * Tolerances.Float64Sum(16 + 10));
    }

    // One power step of apple/ml-sigma-reparam's SpectralNormedWeight.get_sigma (vision/layers.py lines 34–43), without gradient
    // through the vectors: v = normalize(W u), u′ = normalize(Wᵀ v), σ = vᵀ W u′.
    private static (Tensor Sigma, Tensor NextU) OfficialPowerStep(Tensor weight, Tensor u)
    {
        var data = weight.detach();
        var v = data.mv(u);
        v = v / v.norm().clamp_min(1e-12);
        var next = data.t().mv(v);
        next = next / next.norm().clamp_min(1e-12);
        return (v.dot(weight.mv(next)), next);
    }

    /// <summary>The same deterministic computation repeated, or a buffer that must not move: no difference is allowed.</summary>
    private const double Exact = 0;

    private static SigmaReparamLinear LayerWithAStaleVector(long seed)
    {
        manual_seed(seed);
        var layer = new SigmaReparamLinear(16, 10, dtype: ScalarType.Float64);
        using (no_grad())
        {
            var stale = Inputs.Random([16], ScalarType.Float64, seed: seed + 1);
            layer.RightSingularVector.copy_(stale / stale.norm());      // far from the singular vector, so a step shows
            layer.Gamma.fill_(1.7);
        }
        return layer;
    }

    [Fact]
    public void SigmaReparam_StoresOneRightVectorAndTheTrainingSigma_InitialisedFromTheSvd()
    {
        using var scope = NewDisposeScope();
        manual_seed(31);
        var layer = new SigmaReparamLinear(16, 10, dtype: ScalarType.Float64);
        var state = layer.state_dict();
        Assert.Equal(new[] { "bias", "gamma", "spectral_norm", "u", "weight" }, state.Keys.Order());
        Assert.Equal([16L], state["u"].shape);
        Assert.Equal([1L], state["spectral_norm"].shape);
        var (_, singular, rightT) = linalg.svd(layer.Weight.detach(), fullMatrices: false);
        Tolerances.AssertClose(rightT[0], layer.RightSingularVector, Tolerances.Float64, what: "u = Vᵀ[0] of W₀");
        Tolerances.AssertClose(singular[..1], layer.TrainingSigma, Tolerances.Float64, what: "spectral_norm = σ(W₀)");
        Tolerances.AssertClose(singular[..1], layer.Gamma.detach(), Tolerances.Float64, what: "γ = σ(W₀)");
    }

    [Fact]
    public void SigmaReparam_EvalTakesTheSameStepWithoutStoringIt_TrainingStoresIt()
    {
        using var scope = NewDisposeScope();
        var layer = LayerWithAStaleVector(seed: 41);
        var storedU = layer.RightSingularVector.clone();
        var storedSigma = layer.TrainingSigma.clone();
        var (sigma, nextU) = OfficialPowerStep(layer.Weight, storedU);
        var expected = layer.Weight / sigma * layer.Gamma;

        layer.eval();
        var first = layer.ReparameterizedWeight();
        Tolerances.AssertClose(expected, first, Tolerances.Float64, what: "eval Ŵ = γW/σ after one step");
        Tolerances.AssertClose(first, layer.ReparameterizedWeight(), Exact, what: "a second eval call");
        Tolerances.AssertClose(storedU, layer.RightSingularVector, Exact, what: "u after eval");
        Tolerances.AssertClose(storedSigma, layer.TrainingSigma, Exact, what: "spectral_norm after eval");

        var probe = Inputs.Random([10, 16], ScalarType.Float64, seed: 3);
        var expectedGrads = autograd.grad([(expected * probe).sum()], [layer.Weight, layer.Gamma]);
        var grads = autograd.grad([(layer.ReparameterizedWeight() * probe).sum()], [layer.Weight, layer.Gamma]);
        Tolerances.AssertClose(expectedGrads[0], grads[0], Tolerances.Float64, what: "∂/∂W, vectors held constant");
        Tolerances.AssertClose(expectedGrads[1], grads[1], Tolerances.Float64, what: "∂/∂γ");

        layer.train();
        Tolerances.AssertClose(expected, layer.ReparameterizedWeight(), Tolerances.Float64, what: "training Ŵ");
        Tolerances.AssertClose(nextU, layer.RightSingularVector, Tolerances.Float64, what: "u ← u′ in training");
        Tolerances.AssertClose(sigma.detach().reshape(1), layer.TrainingSigma, Tolerances.Float64, what: "spectral_norm ← σ in training");
    }

    /// <summary>Power iteration's error in σ shrinks like (σ₂/σ₁)^(2k); for this 10 × 16 Gaussian W, 200 steps leave it far below this.</summary>
    private const double ConvergedPowerIteration = 1e-9;

    [Fact]
    public void SigmaReparam_TrainingSigma_ConvergesToTheLargestSingularValue()
    {
        using var scope = NewDisposeScope();
        var layer = LayerWithAStaleVector(seed: 51);
        for (var step = 0; step < 200; step++)
            layer.ReparameterizedWeight();
        var largest = linalg.svdvals(layer.Weight.detach())[..1];
        Tolerances.AssertClose(largest, layer.TrainingSigma, atol: 0, rtol: ConvergedPowerIteration, what: "σ estimate vs linalg.svdvals");
        Tolerances.AssertClose(full_like(largest, 1.7), linalg.svdvals(layer.ReparameterizedWeight().detach())[..1], atol: 0, rtol: ConvergedPowerIteration, what: "‖Ŵ‖₂ = γ");
    }

    [Fact]
    public void SigmaGradient_IsTheOuterProductOfTheSingularVectors()
    {
        using var scope = NewDisposeScope();
        var weight = Inputs.Random([5, 4], ScalarType.Float64).requires_grad_();
        var u = Inputs.Random([5], ScalarType.Float64, seed: 2);
        var v = Inputs.Random([4], ScalarType.Float64, seed: 3);
        var sigma = u.dot(weight.mv(v));
        sigma.backward();
        Tolerances.AssertClose(u.outer(v), weight.grad!, Tolerances.Float64);
    }

    [Fact]
    public void WeightNorm_StartsAtV_AndIsInvariantToTheScaleOfV()
    {
        using var scope = NewDisposeScope();
        var layer = new WeightNormLinear(6, 3, dtype: ScalarType.Float64);
        Tolerances.AssertClose(layer.Direction.detach(), layer.EffectiveWeight(), Tolerances.Float64, what: "w = v at init");
        var x = Inputs.Random([4, 6], ScalarType.Float64);
        var before = layer.forward(x);
        using (no_grad())
            layer.Direction.mul_(4.0);
        Tolerances.AssertClose(before, layer.forward(x), Tolerances.Float64, what: "scale of v");
        layer.forward(x).square().sum().backward();
        // ∂L/∂v sums over the 4 samples, the check over the 6 inputs: rounding relative to the terms' absolute sum.
        var terms = layer.Direction.grad! * layer.Direction.detach();
        Tolerances.AssertClose(zeros(3, dtype: float64), terms.sum([1L]), Tolerances.Float64Sum(4 + 6) * terms.abs().sum([1L]).max().item<double>(), what: "⟨v, ∂L/∂v⟩");
    }

    [Fact]
    public void Float32Layers_RunForwardAndBackward()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([2, 6]);
        var spectral = SpectralNorm.Linear(6, 4);
        spectral.forward(x).sum().backward();
        Assert.True(spectral.SigmaEstimate() > 0);
        var sigma = new SigmaReparamLinear(6, 4);
        sigma.forward(x).sum().backward();
        Assert.NotNull(sigma.Gamma.grad);
        new WeightNormLinear(6, 4).forward(x).sum().backward();
        new WeightStandardizedLinear(6, 4).forward(x).sum().backward();
        new ScaledWSConv2d(2, 3, 3, padding: 1).forward(Inputs.Random([1, 2, 4, 4])).sum().backward();
    }

    [Fact]
    public void SpectralNorm_AllowsTwoForwardsBeforeOneBackward()
    {
        // A GAN discriminator scores a real and a generated batch, then backpropagates once; each training forward updates u and v.
        using var scope = NewDisposeScope();
        manual_seed(6);
        var layer = SpectralNorm.Linear(4, 3);
        var loss = layer.forward(randn(5, 4)).sum() + layer.forward(randn(5, 4)).sum();
        loss.backward();
        Assert.NotNull(layer.parameters().First().grad);
    }
}
