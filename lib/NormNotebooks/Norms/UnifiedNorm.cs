// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Unified Normalization: a per-feature quadratic-mean normaliser whose statistics are smoothed over a window of
/// iterations (geometric mean forward, arithmetic mean then EMA backward), with optional adaptive outlier filtration;
/// a fixed per-feature affine map at inference, foldable into the next linear layer.</summary>
/// <remarks>Yang et al., "Unified Normalization for Accelerating and Stabilizing Transformers", ACM MM 2022, arXiv:2208.01313,
/// §3 (Eqs. 6–12), following the official UN1d/UN2dFunction. Per training step t (1-based), on x flattened to [N, d]:
/// <list type="number">
/// <item>q_t = mean_n x² per feature (no centring), stored in slot t mod M of a window of M entries (WindowSize, 4);</item>
/// <item>filtration (if on, t ≥ W): τ = M·Var(√window) taken before the insert; if for any feature AM − GM of the window exceeds
/// τ, the batch is an outlier: its slot gets the running r instead, the batch uses q_t, and the backward skips smoothing;</item>
/// <item>s = GM of the window once t &gt; M and t ≥ W (WarmupIterations, 4000), else q_t; z = x/√(s + ε); y = γ ⊙ z + β;</item>
/// <item>ρ = √(s + ε)/√(r + ε) clamped to [1/5, 5] after RhoGateIterations (max(1000, W) in the reference), else 1; then
/// r ← m·r + (1 − m)·s (m = 0.9);</item>
/// <item>backward: g = ρ ⊙ γ ⊙ ∂L/∂y, λ_t = mean_n(g ⊙ z) into the gradient window; λ̄ = its mean (or λ_t early or when
/// skipped); ema ← m·ema + (1 − m)·λ̄; ∂L/∂x = (g − ema ⊙ z)/√(s + ε) (λ̄ instead of ema when skipped); ∂L/∂γ = Σ ∂L/∂y ⊙ ρz.</item>
/// </list>
/// With M = 1 every batch counts as "skipped": plain normalisation by q_t with ρ = 1 and an EMA-free correction by λ_t.
/// Evaluation: y = γ ⊙ x/√(r + ε) + β (<see cref="FoldedScale"/>). The reference uses filtration off for NLP, on for CV.
/// Used by notebook 14.</remarks>
public sealed class UnifiedNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter _bias;
    [ComponentName(Name = "running_var")] private Tensor _runningVar;
    [ComponentName(Name = "ema_gz")] private Tensor _emaGz;
    [ComponentName(Name = "buffer_x2")] private Tensor _bufferX2;
    [ComponentName(Name = "buffer_gz")] private Tensor _bufferGz;

    public UnifiedNorm(long features, int windowSize = 4, long warmupIterations = 4000, bool outlierFiltration = false, double eps = 1e-5,
        double momentum = 0.9, long? rhoGateIterations = null, Device? device = null, ScalarType? dtype = null) : base(nameof(UnifiedNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(windowSize);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupIterations);
        (Features, WindowSize, WarmupIterations, OutlierFiltration, Eps, Momentum) = (features, windowSize, warmupIterations, outlierFiltration, eps, momentum);
        RhoGateIterations = rhoGateIterations ?? Math.Max(1000, warmupIterations);
        _weight = new Parameter(ones(features, dtype: dtype, device: device));
        _bias = new Parameter(zeros(features, dtype: dtype, device: device));
        _runningVar = ones(features, dtype: dtype, device: device);
        _emaGz = zeros(features, dtype: dtype, device: device);
        _bufferX2 = zeros([windowSize, features], dtype: dtype, device: device);
        _bufferGz = zeros([windowSize, features], dtype: dtype, device: device);
        RegisterComponents();
    }

    public long Features { get; }
    public int WindowSize { get; }
    public long WarmupIterations { get; }
    public bool OutlierFiltration { get; }
    public double Eps { get; }
    public double Momentum { get; }
    public long RhoGateIterations { get; }
    public Parameter Weight => _weight;
    public Parameter Bias => _bias;
    public Tensor RunningVar => _runningVar;
    public Tensor EmaGz => _emaGz;
    public Tensor WindowX2 => _bufferX2;

    /// <summary>Training steps taken (t).</summary>
    public long Iterations { get; private set; }

    /// <summary>Batches the outlier filtration skipped.</summary>
    public long Skipped { get; private set; }

    /// <summary>The last step's raw quadratic mean q_t and the statistic s it normalised with (for fluctuation probes).</summary>
    public (Tensor Raw, Tensor Smoothed)? LastStatistics { get; private set; }

    /// <summary>γ/√(r + ε): evaluation is y = x ⊙ FoldedScale + β.</summary>
    public Tensor FoldedScale() => (_weight * rsqrt(_runningVar + Eps)).detach();

    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(UnifiedNorm));
        using var scope = NewDisposeScope();
        var flat = NormInput.Upcast(x).reshape(-1, Features);
        Tensor y;
        if (training)
        {
            Iterations++;
            var step = new Step(this, Iterations);
            step.PrepareForward(flat.detach());
            y = UnifiedFunction.apply(flat, _weight, _bias, step);
        }
        else
        {
            y = flat * rsqrt(_runningVar.to(flat.dtype) + Eps) * _weight + _bias;
        }
        return y.reshape(x.shape).to(x.dtype).MoveToOuterDisposeScope();
    }

    public override string ToString() =>
        $"UnifiedNorm({Features}, window={WindowSize}, warmup={WarmupIterations}, outlier_filtration={OutlierFiltration}, eps={Eps:g}, momentum={Momentum:g})";

    /// <summary>The statistics of one training step, shared by its forward and backward.</summary>
    private sealed class Step(UnifiedNorm owner, long iteration)
    {
        public UnifiedNorm Owner => owner;
        public long Iteration => iteration;
        public bool Skip { get; private set; }
        public Tensor Statistic { get; private set; } = null!;   // s
        public Tensor Rho { get; private set; } = null!;         // ρ

        public void PrepareForward(Tensor flat)
        {
            using var _ = no_grad();
            var window = owner.WindowSize;
            var slot = iteration % window;
            var q = flat.square().mean([0L]);                                                       // q_t
            var threshold = owner._bufferX2.sqrt().var().ToDouble() * window;                    // τ, before the insert
            owner._bufferX2[slot] = q.to(owner._bufferX2.dtype);
            Skip = window == 1;
            if (owner.OutlierFiltration && iteration >= owner.WarmupIterations)
            {
                var arithmetic = owner._bufferX2.mean([0L]);
                var geometric = owner._bufferX2.log().mean([0L]).exp();
                if ((arithmetic - geometric).gt(threshold).any().item<bool>())
                {
                    owner._bufferX2[slot] = owner._runningVar;
                    Skip = true;
                    owner.Skipped++;
                }
            }
            var smoothed = iteration <= window || iteration < owner.WarmupIterations || Skip
                ? q
                : owner._bufferX2.log().mean([0L]).exp().to(q.dtype);                                  // s: geometric mean of the window
            var rho = ((smoothed + owner.Eps).sqrt() / (owner._runningVar.to(q.dtype) + owner.Eps).sqrt());
            // Both live in the caller's dispose scope; the autograd function saves them for its backward.
            Rho = iteration <= owner.RhoGateIterations || Skip ? ones_like(rho) : rho.clamp(0.2, 5.0);
            Statistic = smoothed;
            owner._runningVar.mul_(owner.Momentum).add_(smoothed.to(owner._runningVar.dtype), alpha: 1 - owner.Momentum);
            owner.LastStatistics?.Raw.Dispose();
            owner.LastStatistics?.Smoothed.Dispose();
            owner.LastStatistics = (q.clone().DetachFromDisposeScope(), smoothed.clone().DetachFromDisposeScope());
        }
    }

    private sealed class UnifiedFunction : autograd.SingleTensorFunction<UnifiedFunction>
    {
        public override string Name => nameof(UnifiedFunction);

        // vars: x [N, d], γ [d], β [d], the step's statistics.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, weight, bias, step) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Step)vars[3]);
            var z = x.detach() * rsqrt(step.Statistic + step.Owner.Eps);
            ctx.save_for_backward([z, weight.detach(), step.Statistic, step.Rho]);
            ctx.save_data("step", step);
            return z * weight.detach() + bias.detach();
        }

        // Returns one slot per argument of forward: ∂L/∂x, ∂L/∂γ, ∂L/∂β, and none for the statistics.
        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (z, weight, statistic, rho) = (saved[0], saved[1], saved[2], saved[3]);
            var step = (Step)ctx.get_data("step");
            var owner = step.Owner;
            var window = owner.WindowSize;
            var slot = step.Iteration % window;
            var g = gradOutput * weight * rho;                                                 // gradient compensation
            var lambda = (g * z).mean([0L]);                                                        // λ_t
            Tensor meanLambda;
            using (no_grad())
            {
                owner._bufferGz[slot] = (step.Skip ? owner._emaGz : lambda.to(owner._bufferGz.dtype));
                meanLambda = step.Iteration <= window || step.Iteration < owner.WarmupIterations || step.Skip
                    ? lambda
                    : owner._bufferGz.mean([0L]).to(lambda.dtype);                                  // λ̄
                owner._emaGz.mul_(owner.Momentum).add_(meanLambda.to(owner._emaGz.dtype), alpha: 1 - owner.Momentum);
            }
            var correction = step.Skip ? meanLambda : owner._emaGz.to(z.dtype);
            var gradInput = (g - correction * z) * rsqrt(statistic + owner.Eps);
            var gradWeight = (gradOutput * rho * z).sum([0L]);
            var gradBias = gradOutput.sum([0L]);
            return [gradInput, gradWeight, gradBias, null!];
        }
    }
}
