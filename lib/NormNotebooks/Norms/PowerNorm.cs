// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Power normalisation: per-feature division by a running quadratic mean (no mean subtraction), with the paper's approximate backward.</summary>
/// <remarks>Shen, Yao, Gholami, Mahoney &amp; Keutzer, "PowerNorm: Rethinking Batch Normalization in Transformers", ICML 2020,
/// arXiv:2003.07845, Alg. 1 (forward) and Alg. 2 (backward), on inputs [..., d] flattened to [N, d]:
/// <list type="number">
/// <item>group scaling (the authors' GroupScaling1D, easy to miss): each token's d features split into G groups, each divided by
/// √(mean(x²) + 1e-5) over its group; G ↦ Groups (the number of attention heads in the reference);</item>
/// <item>ψ²_B = 1/N Σₙ xₙ² per feature; x̂ = x/√(ψ²_{t−1} + ε) with the running ψ² (ε = 1e-5); y = γx̂ + β;</item>
/// <item>ψ²_t = α·ψ²_{t−1} + (1 − α)·ψ²_B, α ↦ ForwardMomentum (0.9), running_phi initialised to 1;</item>
/// <item>warm-up: for t ≤ WarmupIterations x̂ uses ψ²_B; for t &lt; WarmupIterations (strictly, as the reference code) running_phi
/// first takes the cumulative average ψ² ← ψ²·(t − 1)/t + ψ²_B/t, then the update of step 3;</item>
/// <item>backward: g = ∂L/∂x̂, g̃ = g − ν ⊙ x̂, ∂L/∂x = g̃/√(ψ²_B + ε) (the reference divides by the batch quadratic mean even
/// after warm-up); ν ← ν ⊙ (1 − (1 − α_b)Γ) + (1 − α_b)Λ with Γ = mean(x̂²) and Λ = mean(g ⊙ x̂) of the raw gradient g
/// per feature, α_b ↦ BackwardMomentum (0.9), ν ↦ the buffer running_nu (init 0). The reference (mask_powernorm.py) keeps
/// ema_gz = ν/(1 − α_b) and adds mean(g̃ ⊙ x̂) = Λ − νΓ to it, which is this update; taking Λ from g̃ instead would
/// apply the νΓ term twice.</item>
/// </list>
/// Evaluation: y = γ ⊙ x/√(ψ² + ε) + β after the group scaling, a per-feature affine map (see <see cref="FoldedScale"/>).
/// The gradient of the group scaling itself is autograd's.
/// <para>PN-V (<c>batchStatisticsOnly</c>, the paper's ablation between BN and PN): training normalises by the batch quadratic mean
/// ψ²_B with ordinary backpropagation through it (no running statistics in the forward, no approximate backward); the running ψ² is
/// still kept for evaluation. Used by notebook 13.</para></remarks>
public sealed class PowerNorm : nn.Module<Tensor, Tensor>
{
    private const double GroupScalingEps = 1e-5;

    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter _bias;
    [ComponentName(Name = "running_phi")] private Tensor _runningPhi;
    [ComponentName(Name = "running_nu")] private Tensor _runningNu;

    /// <summary>A PowerNorm over a last axis of width d = <paramref name="features"/>; γ starts at 1, β at 0, running_phi at 1 and running_nu at 0.</summary>
    /// <param name="features">Width d of the normalised last axis.</param>
    /// <param name="groups">G of the group scaling (1: the whole token is one group); must divide d.</param>
    /// <param name="eps">ε, added to ψ² inside the root (1e-5).</param>
    /// <param name="forwardMomentum">α of the running ψ² update (0.9).</param>
    /// <param name="backwardMomentum">α_b of the ν update in the approximate backward (0.9).</param>
    /// <param name="warmupIterations">Training steps normalised by the batch ψ²_B (1000; 0 for none).</param>
    /// <param name="device">Device of the parameters and buffers (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and buffers (null: TorchSharp's default).</param>
    /// <param name="batchStatisticsOnly">PN-V: train on ψ²_B with plain autograd instead of the running ψ² and Alg. 2.</param>
    public PowerNorm(long features, long groups = 1, double eps = 1e-5, double forwardMomentum = 0.9, double backwardMomentum = 0.9,
        long warmupIterations = 1000, bool batchStatisticsOnly = false, Device? device = null, ScalarType? dtype = null) : base(nameof(PowerNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupIterations);
        if (features % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"PowerNorm: {groups} groups do not divide {features} features.");
        (Features, Groups, Eps, ForwardMomentum, BackwardMomentum, WarmupIterations) = (features, groups, eps, forwardMomentum, backwardMomentum, warmupIterations);
        BatchStatisticsOnly = batchStatisticsOnly;
        _weight = new Parameter(ones(features, dtype: dtype, device: device));
        _bias = new Parameter(zeros(features, dtype: dtype, device: device));
        _runningPhi = ones(features, dtype: dtype, device: device);
        _runningNu = zeros(features, dtype: dtype, device: device);
        RegisterComponents();
    }

    /// <summary>Width d of the last axis; inputs [..., d] are flattened to [N, d], so ψ² is per feature over all N tokens.</summary>
    public long Features { get; }

    /// <summary>PN-V: training uses the batch quadratic mean with plain autograd (see the remarks).</summary>
    public bool BatchStatisticsOnly { get; }
    /// <summary>G of the group scaling (step 1): each token's d features form G groups of d/G, each divided by its own √(mean(x²) + 1e-5).</summary>
    public long Groups { get; }
    /// <summary>ε, added inside the root to the running ψ² (forward) and to ψ²_B (approximate backward); the group scaling uses a fixed 1e-5.</summary>
    public double Eps { get; }
    /// <summary>α in ψ²_t = α·ψ²_{t−1} + (1 − α)·ψ²_B, the weight of the old running value.</summary>
    public double ForwardMomentum { get; }
    /// <summary>α_b, the decay of ν in the approximate backward, ν ← ν ⊙ (1 − (1 − α_b)Γ) + (1 − α_b)Λ.</summary>
    public double BackwardMomentum { get; }
    /// <summary>Training steps t ≤ WarmupIterations normalise by ψ²_B; for t &lt; WarmupIterations running_phi first takes the cumulative average.</summary>
    public long WarmupIterations { get; }
    /// <summary>γ, shape [d], init 1 (state key "weight").</summary>
    public Parameter Weight => _weight;
    /// <summary>β, shape [d], init 0 (state key "bias").</summary>
    public Parameter Bias => _bias;
    /// <summary>The running quadratic mean ψ², shape [d], init 1 (buffer "running_phi"); normalises after warm-up and in evaluation.</summary>
    public Tensor RunningPhi => _runningPhi;
    /// <summary>ν of the approximate backward, shape [d], init 0 (buffer "running_nu"); updated in place by each backward pass.</summary>
    public Tensor RunningNu => _runningNu;

    /// <summary>Training steps taken (t).</summary>
    public long Iterations { get; private set; }

    /// <summary>The last training batch's quadratic mean ψ²_B (for fluctuation probes), or null.</summary>
    public Tensor? LastBatchQuadraticMean { get; private set; }

    /// <summary>γ/√(ψ² + ε): the evaluation-mode map is y = x_gs ⊙ FoldedScale + β, with x_gs the group-scaled input.</summary>
    public Tensor FoldedScale() => (_weight * rsqrt(_runningPhi + Eps)).detach();

    /// <summary>The group scaling of step 1 (parameter-free, per token).</summary>
    public Tensor GroupScale(Tensor x)
    {
        using var scope = NewDisposeScope();
        var grouped = x.reshape([.. x.shape[..^1], Groups, Features / Groups]);
        var scaled = grouped * rsqrt(grouped.square().mean([-1L], keepdim: true) + GroupScalingEps);
        return scaled.reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Group-scales x [..., d], divides each feature by √(ψ² + ε) and applies γ and β; the output has x's shape and dtype (half precision computed in float32).</summary>
    /// <remarks>In training each call is one step t: ψ² is ψ²_B during warm-up and the running value after it, running_phi and <see cref="LastBatchQuadraticMean"/> are updated, and the backward is Alg. 2 (PN-V: plain autograd through ψ²_B). Evaluation uses the running ψ².</remarks>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(PowerNorm));
        using var scope = NewDisposeScope();
        var input = GroupScale(NormInput.Upcast(x));
        var flat = input.reshape(-1, Features);
        Tensor normalised;
        if (training)
        {
            Iterations++;
            var batchPhi = flat.detach().square().mean([0L]);                                  // ψ²_B
            var warmup = Iterations <= WarmupIterations;
            var phi = warmup ? batchPhi : _runningPhi.to(flat.dtype).clone();                   // ψ² used by this forward
            normalised = BatchStatisticsOnly
                ? flat * rsqrt(flat.square().mean([0L]) + Eps)                                 // PN-V: autograd through ψ²_B
                : PowerFunction.apply(flat, phi, batchPhi, _runningNu, Eps, BackwardMomentum);
            using (no_grad())
            {
                var phiBuffer = batchPhi.to(_runningPhi.dtype);
                if (Iterations < WarmupIterations)                                                    // strictly before, as the reference
                    _runningPhi.mul_((Iterations - 1.0) / Iterations).add_(phiBuffer / Iterations);   // cumulative average
                _runningPhi.mul_(ForwardMomentum).add_(phiBuffer, alpha: 1 - ForwardMomentum);        // Alg. 1, running update
                LastBatchQuadraticMean?.Dispose();
                LastBatchQuadraticMean = batchPhi.clone().DetachFromDisposeScope();
            }
        }
        else
        {
            normalised = flat * rsqrt(_runningPhi.to(flat.dtype) + Eps);
        }
        var y = (normalised * _weight + _bias).reshape(x.shape);                                 // y = γx̂ + β
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// x̂ = x/√(ψ² + ε) for x [N, d] with the approximate backward of Alg. 2 (ν is updated in place by the backward pass);
    /// exposed for tests of the gradient rule.
    /// </summary>
    internal static Tensor ApproximateNormalise(Tensor x, Tensor phi, Tensor batchPhi, Tensor nu, double eps, double backwardMomentum) =>
        PowerFunction.apply(x, phi, batchPhi, nu, eps, backwardMomentum);

    /// <inheritdoc/>
    public override string ToString() =>
        $"PowerNorm({Features}, groups={Groups}, eps={Eps:g}, forward_momentum={ForwardMomentum:g}, backward_momentum={BackwardMomentum:g}, warmup={WarmupIterations}{(BatchStatisticsOnly ? ", PN-V" : "")})";

    private sealed record BufferBox(Tensor Buffer);

    /// <summary>x̂ = x/√(ψ² + ε) with the paper's approximate backward (Alg. 2).</summary>
    private sealed class PowerFunction : autograd.SingleTensorFunction<PowerFunction>
    {
        public override string Name => nameof(PowerFunction);

        // vars: x [N, d], ψ² used by the forward [d], ψ²_B [d], ν buffer [d] (updated in place), ε, α_b.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, phi, batchPhi, nu) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3]);
            var (eps, momentum) = ((double)vars[4], (double)vars[5]);
            var z = x.detach() * rsqrt(phi + eps);
            ctx.save_for_backward([z, batchPhi]);
            ctx.save_data("nu", new BufferBox(nu));   // TorchSharp warns on tensors in save_data; ν must be updated in place
            ctx.save_data("eps", eps);
            ctx.save_data("momentum", momentum);
            return z;
        }

        // Returns one slot per argument of forward: ∂L/∂x, then none for ψ², ψ²_B, ν, ε and α_b.
        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (z, batchPhi) = (saved[0], saved[1]);
            var nu = ((BufferBox)ctx.get_data("nu")).Buffer;
            var eps = (double)ctx.get_data("eps");
            var momentum = (double)ctx.get_data("momentum");
            var adjusted = gradOutput - nu.to(z.dtype) * z;                                  // g̃ = g − ν ⊙ x̂
            var gradInput = adjusted * rsqrt(batchPhi + eps);                                // ∂L/∂x = g̃/√(ψ²_B + ε)
            using (no_grad())
            {
                var gamma = z.square().mean([0L]);                                           // Γ
                var lambda = (gradOutput * z).mean([0L]);                                    // Λ, of the raw g (not g̃)
                nu.mul_((1 - (1 - momentum) * gamma).to(nu.dtype)).add_(lambda.to(nu.dtype), alpha: 1 - momentum);
            }
            return [gradInput, null!, null!, null!, null!, null!];
        }
    }
}
