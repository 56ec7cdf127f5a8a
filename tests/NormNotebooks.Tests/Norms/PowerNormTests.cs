// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class PowerNormTests
{
    private const double Eps = 1e-5;

    // Reference group scaling for one group per token: x / √(mean(x²) + 1e-5).
    private static Tensor GroupScaled(Tensor x) => x / (x.square().mean([-1L], keepdim: true) + 1e-5).sqrt();

    [Fact]
    public void GroupScaling_GivesUnitRmsPerGroupAndToken()
    {
        using var scope = NewDisposeScope();
        var norm = new PowerNorm(12, groups: 3, dtype: ScalarType.Float64);
        var x = Inputs.Random([5, 12], ScalarType.Float64);
        var rms = norm.GroupScale(x).reshape(5, 3, 4).square().mean([-1L]).sqrt();
        var meanSquare = x.reshape(5, 3, 4).square().mean([-1L]);
        // Exactly 1 but for ε: √(m/(m + 1e-5)) for a group whose input mean square is m.
        Tolerances.AssertClose((meanSquare / (meanSquare + 1e-5)).sqrt(), rms, Tolerances.Float64, what: "per-group RMS");
        Assert.True((rms - 1).abs().max().item<double>() <= 1e-5 / (2 * meanSquare.min().item<double>()));   // 1 − √(m/(m + ε)) ≤ ε/(2m)
    }

    [Fact]
    public void RunningQuadraticMean_FollowsWarmupThenMomentum_AndTheForwardUsesIt()
    {
        using var scope = NewDisposeScope();
        var norm = new PowerNorm(4, warmupIterations: 2, dtype: ScalarType.Float64);
        var batches = Enumerable.Range(0, 3).Select(i => Inputs.Random([6, 4], ScalarType.Float64, seed: 20 + i, mean: i, scale: 1 + i)).ToArray();
        var psi = batches.Select(b => GroupScaled(b).square().mean([0L])).ToArray();

        norm.forward(batches[0]);
        var expected = psi[0] * 0 / 1 + psi[0] / 1;                 // t = 1, warm-up: cumulative average …
        expected = 0.9 * expected + 0.1 * psi[0];                   // … then the momentum update
        Tolerances.AssertClose(expected, norm.RunningPhi, Tolerances.Float64, what: "after step 1");

        norm.forward(batches[1]);
        expected = 0.9 * expected + 0.1 * psi[1];                   // t = 2 = warm-up: batch statistics, but no cumulative average
        Tolerances.AssertClose(expected, norm.RunningPhi, Tolerances.Float64, what: "after step 2");

        var output = norm.forward(batches[2]);                      // t = 3: normalised by the previous running value
        Tolerances.AssertClose(GroupScaled(batches[2]) / (expected + Eps).sqrt(), output, Tolerances.Float64, what: "forward after warm-up");
        expected = 0.9 * expected + 0.1 * psi[2];
        Tolerances.AssertClose(expected, norm.RunningPhi, Tolerances.Float64, what: "after step 3");
    }

    [Fact]
    public void Backward_IsThePapersApproximateRule_NotAutograds()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([8, 5], ScalarType.Float64).requires_grad_();
        var batchPhi = x.detach().square().mean([0L]);
        var nu = Inputs.Random([5], ScalarType.Float64, seed: 4, mean: 0, scale: 0.3);
        var nuBefore = nu.clone();
        var upstream = Inputs.Random([8, 5], ScalarType.Float64, seed: 6);

        var z = PowerNorm.ApproximateNormalise(x, batchPhi, batchPhi, nu, Eps, 0.9);
        z.backward([upstream]);

        var zRef = x.detach() / (batchPhi + Eps).sqrt();
        var adjusted = upstream - nuBefore * zRef;                                   // g̃ = g − ν ⊙ x̂
        Tolerances.AssertClose(adjusted / (batchPhi + Eps).sqrt(), x.grad!, Tolerances.Float64, what: "∂L/∂x = g̃/√(ψ²_B + ε)");
        var gamma = zRef.square().mean([0L]);
        var lambda = (upstream * zRef).mean([0L]);                                   // Λ of the raw gradient
        Tolerances.AssertClose(nuBefore * (1 - 0.1 * gamma) + 0.1 * lambda, nu, Tolerances.Float64, what: "ν update");

        // Autograd's exact gradient of x/√(mean(x²) + ε) has a batch-coupling term that the approximation drops.
        var exactInput = x.detach().clone().requires_grad_();
        (exactInput / (exactInput.square().mean([0L]) + Eps).sqrt()).backward([upstream]);
        const double couplingEffect = 1e-3;   // measured: the two gradients differ by up to 1.55 here
        Assert.True((exactInput.grad! - x.grad!).abs().max().item<double>() > couplingEffect, "the approximate backward should differ from autograd's");
    }

    [Fact]
    public void WithZeroNu_AndUpstreamOrthogonalToZ_TheApproximationIsExact()
    {
        using var scope = NewDisposeScope();
        // Where Σₙ gₙ ⊙ zₙ = 0 per feature, the exact gradient's coupling term vanishes, so both rules agree.
        var x = Inputs.Random([8, 3], ScalarType.Float64).requires_grad_();
        var batchPhi = x.detach().square().mean([0L]);
        var z = x.detach() / (batchPhi + Eps).sqrt();
        var raw = Inputs.Random([8, 3], ScalarType.Float64, seed: 9);
        var upstream = raw - z * ((raw * z).sum([0L]) / z.square().sum([0L]));
        PowerNorm.ApproximateNormalise(x, batchPhi, batchPhi, zeros(3, dtype: float64), Eps, 0.9).backward([upstream]);
        var exact = x.detach().clone().requires_grad_();
        (exact / (exact.square().mean([0L]) + Eps).sqrt()).backward([upstream]);
        Tolerances.AssertCloseNormwise(exact.grad!, x.grad!, Tolerances.Float64Sum(8));   // ψ²_B and the coupling term sum over 8 tokens
    }

    [Fact]
    public void Eval_IsTheFoldedPerFeatureAffineMap()
    {
        using var scope = NewDisposeScope();
        var norm = new PowerNorm(6, groups: 2, warmupIterations: 1, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.Weight.copy_(Inputs.Random([6], ScalarType.Float64, seed: 2));
            norm.Bias.copy_(Inputs.Random([6], ScalarType.Float64, seed: 3));
        }
        for (var i = 0; i < 3; i++)
            norm.forward(Inputs.Random([4, 5, 6], ScalarType.Float64, seed: 30 + i));
        norm.eval();
        var x = Inputs.Random([2, 5, 6], ScalarType.Float64, seed: 40);
        // The group mean over 3 features, then the same three factors in another order.
        Tolerances.AssertCloseNormwise(norm.GroupScale(x) * norm.FoldedScale() + norm.Bias.detach(), norm.forward(x), Tolerances.Float64Sum(3));
        Assert.Equal(3, norm.Iterations);
    }

    [Fact]
    public void TrainingStep_BackpropagatesToInputAndAffine()
    {
        using var scope = NewDisposeScope();
        var norm = new PowerNorm(6, groups: 2, warmupIterations: 0);
        var x = Inputs.Random([3, 4, 6]).requires_grad_();
        norm.forward(x).square().sum().backward();
        Assert.NotNull(x.grad);
        Assert.NotNull(norm.Weight.grad);
        Assert.True(norm.RunningNu.abs().sum().item<float>() > 0, "the backward pass updates ν");
    }

    [Fact]
    public void PnV_NormalisesByTheBatchQuadraticMean_WithPlainBackprop_AndKeepsRunningStatisticsForEvaluation()
    {
        using var scope = NewDisposeScope();
        var norm = (PowerNorm)NormFactory.Create("powernorm-v", 4, new NormOptions { Dtype = ScalarType.Float64, WarmupIterations = 0 });
        Assert.True(norm.BatchStatisticsOnly);
        var x = Inputs.Random([6, 4], ScalarType.Float64, seed: 31, mean: 1, scale: 2);
        var scaled = GroupScaled(x);
        var expected = scaled / (scaled.square().mean([0L]) + Eps).sqrt();
        Tolerances.AssertClose(expected, norm.forward(x), Tolerances.Float64, what: "PN-V training forward");
        Tolerances.AssertClose(0.9 * ones(4, dtype: ScalarType.Float64) + 0.1 * scaled.square().mean([0L]), norm.RunningPhi, Tolerances.Float64, what: "running ψ²");
        GradCheck.Input(norm.forward, Inputs.Random([5, 4], ScalarType.Float64, seed: 32));   // autograd through ψ²_B, no approximate rule
        norm.eval();
        var y = Inputs.Random([3, 4], ScalarType.Float64, seed: 33);
        Tolerances.AssertClose(GroupScaled(y) / (norm.RunningPhi + Eps).sqrt(), norm.forward(y), Tolerances.Float64, what: "evaluation uses the running ψ²");
    }

    /// <summary>
    /// A float64 transcription of the authors' MaskPowerNorm (sIncerass/powernorm, fairseq/modules/norms/mask_powernorm.py:
    /// PowerFunction.forward/backward, no padding, GroupScaling1D by autograd as there), written from that file and never
    /// calling the layer's code. Its buffer ema_gz is ν/(1 − α_b).
    /// </summary>
    private sealed class ReferencePowerNorm(long features, long warmupIterations, double forwardMomentum = 0.9, double backwardMomentum = 0.9)
    {
        public Tensor RunningPhi { get; } = ones(features, dtype: float64);
        public Tensor EmaGz { get; } = zeros(features, dtype: float64);
        private long _iteration;

        /// <summary>One training step for the loss Σ y ⊙ upstream: returns (∂x, ∂γ, ∂β) and updates the buffers.</summary>
        public (Tensor Input, Tensor Weight, Tensor Bias) Step(Tensor x, Tensor weight, Tensor bias, Tensor upstream)
        {
            _iteration++;
            var leaf = x.detach().clone().requires_grad_();
            var scaled = GroupScaled(leaf);                                            // GroupScaling1D, group_num = 1
            var input = scaled.detach();
            var variance = input.square().mean([0L]);                                  // x2 = mean(mask_x²) over tokens
            var z = _iteration <= warmupIterations ? input / (variance + Eps).sqrt() : input / (RunningPhi + Eps).sqrt();
            if (_iteration < warmupIterations)
                RunningPhi.copy_(RunningPhi * (_iteration - 1.0) / _iteration + variance / _iteration);
            RunningPhi.copy_(forwardMomentum * RunningPhi + (1 - forwardMomentum) * variance);
            var g = upstream * weight;                                                 // backward
            var approx = g - (1 - backwardMomentum) * EmaGz * z;
            EmaGz.add_((approx * z).mean([0L]));
            var gradScaled = approx / (variance + Eps).sqrt();
            scaled.backward([gradScaled]);
            return (leaf.grad!.detach().clone(), (upstream * z).sum([0L]), upstream.sum([0L]));
        }
    }

    [Fact]
    public void TrainingSteps_MatchTheAuthorsImplementation_AcrossTheWarmupBoundary()
    {
        using var scope = NewDisposeScope();
        const int features = 5, warmup = 3, steps = 6;
        var norm = new PowerNorm(features, warmupIterations: warmup, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.Weight.copy_(Inputs.Random([features], ScalarType.Float64, seed: 50, mean: 1, scale: 0.5));
            norm.Bias.copy_(Inputs.Random([features], ScalarType.Float64, seed: 51, mean: 0, scale: 0.5));
        }
        var reference = new ReferencePowerNorm(features, warmup);
        for (var step = 1; step <= steps; step++)
        {
            // Batches that drift in scale, so the running ψ² and the batch ψ²_B differ after warm-up, and ν grows.
            var x = Inputs.Random([7, features], ScalarType.Float64, seed: 60 + step, mean: 0.5 * step, scale: 1 + 0.3 * step);
            var upstream = Inputs.Random([7, features], ScalarType.Float64, seed: 80 + step, mean: 0.2, scale: 1);
            var expected = reference.Step(x, norm.Weight.detach(), norm.Bias.detach(), upstream);

            var input = x.clone().requires_grad_();
            norm.zero_grad();
            (norm.forward(input) * upstream).sum().backward();
            var at = $"step {step} (warm-up {warmup})";
            Tolerances.AssertClose(reference.RunningPhi, norm.RunningPhi, Tolerances.Float64, what: $"running ψ², {at}");
            Tolerances.AssertClose(reference.EmaGz * 0.1, norm.RunningNu, Tolerances.Float64, what: $"ν = (1 − α_b)·ema_gz, {at}");
            Tolerances.AssertClose(expected.Input, input.grad!, Tolerances.Float64, what: $"∂L/∂x, {at}");
            Tolerances.AssertClose(expected.Weight, norm.Weight.grad!, Tolerances.Float64, what: $"∂L/∂γ, {at}");
            Tolerances.AssertClose(expected.Bias, norm.Bias.grad!, Tolerances.Float64, what: $"∂L/∂β, {at}");
            using (no_grad())
            {
                // A plain SGD step, so later steps see a changed γ as in training.
                norm.Weight.sub_(0.1 * norm.Weight.grad!);
                norm.Bias.sub_(0.1 * norm.Bias.grad!);
            }
        }
        const double nuMoved = 1e-2;   // measured: ν reaches 0.20 after the six steps
        Assert.True(norm.RunningNu.abs().max().item<double>() > nuMoved, "ν should have moved away from 0, or the test checks nothing");
    }

    [Fact]
    public void PowerFunction_LeavesNoTensorsNodesOrHeapBehind()
    {
        // Warm-up ends during the check's own warm-up passes, so the counted passes normalise by the running ψ².
        var norm = new PowerNorm(511, warmupIterations: 5);
        LeakCheck.AssertNoLeaks("PowerFunction", () => norm.forward(randn(256, 511).requires_grad_()));
    }
}
