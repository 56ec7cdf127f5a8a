// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>RepBN: BatchNorm plus a learnable scalar multiple of its input, BN(x) + η·x, a per-feature affine map at inference.</summary>
/// <remarks>Guo, Chen, Tang &amp; Wang, "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive
/// Re-parameterized Batch Normalization", ICML 2024, arXiv:2405.11582, Eq. (3): RepBN(x) = BN(x) + η⊙x with a scalar η
/// (init 1 and BN γ = 1, β = 0 as in the vision code; the LLaMA code starts η = γ = β = 0), BN over all tokens of [B, T, d]
/// (momentum 0.1, ε 1e-5). Evaluation, Eq. (4): RepBN(x) = (γ/√(σ² + ε) + η) ⊙ x + (β − γμ/√(σ² + ε)), see <see cref="Folded"/>;
/// it folds into the following linear layer (<see cref="Reparameterize.FoldIntoLinear"/>). Used by notebook 15.</remarks>
public sealed class RepBatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "bn")] private BatchNorm _norm;
    [ComponentName(Name = "alpha")] private Parameter _eta;

    /// <summary>A RepBN over a last axis of width d = <paramref name="features"/>: η = 1 and BN γ = 1, β = 0 (the vision code), or η = γ = 0 with <paramref name="zeroInit"/> (the LLaMA code).</summary>
    /// <param name="features">Width d of the last axis (BatchNorm channels, statistics over all tokens).</param>
    /// <param name="zeroInit">Start η and BN's γ at 0, as the LLaMA code.</param>
    /// <param name="eps">ε of the BatchNorm (1e-5).</param>
    /// <param name="momentum">m of the BatchNorm's running statistics (0.1).</param>
    /// <param name="device">Device of the parameters and buffers (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and buffers (null: TorchSharp's default).</param>
    public RepBatchNorm(long features, bool zeroInit = false, double eps = 1e-5, double momentum = 0.1, Device? device = null, ScalarType? dtype = null)
        : base(nameof(RepBatchNorm))
    {
        Features = features;
        _norm = new BatchNorm(features, eps, momentum, affine: true, channelsLast: true, device, dtype);
        _eta = new Parameter(zeroInit ? zeros(1, dtype: dtype, device: device) : ones(1, dtype: dtype, device: device));
        if (zeroInit)
        {
            using (no_grad())
                _norm.Weight!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>Width d of the last axis; BN statistics are per feature over every token of [B, T, d].</summary>
    public long Features { get; }
    /// <summary>The channels-last BatchNorm of BN(x) (state key "bn"); its γ, β and running statistics enter the folded map of Eq. (4).</summary>
    public BatchNorm Norm => _norm;

    /// <summary>η, the learnable scalar on the identity path.</summary>
    public Parameter Eta => _eta;

    /// <summary>BN(x) + η·x for x [..., d] (Eq. 3), with batch statistics in training and running ones in evaluation; same shape out.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (_norm.forward(x) + _eta * x).MoveToOuterDisposeScope();   // Eq. (3)
    }

    /// <summary>The inference map as (scale, shift): RepBN(x) = scale ⊙ x + shift (Eq. 4).</summary>
    public (Tensor Scale, Tensor Shift) Folded()
    {
        using var scope = NewDisposeScope();
        var (scale, shift) = _norm.Folded();   // BN's affine map, plus η on the identity path
        return ((scale + _eta.detach()).MoveToOuterDisposeScope(), shift.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override string ToString() => $"RepBatchNorm({Features}, eps={_norm.Eps:g}, momentum={_norm.Momentum:g})";
}

/// <summary>Progressive RepBN (PRepBN): λ·LN(x) + (1 − λ)·RepBN(x) with λ decaying linearly from 1 to 0 after a warm phase.</summary>
/// <remarks>Guo et al. 2024, Eq. (5) and the official prepbn.py: during WarmSteps training forwards only the norm (LayerNorm,
/// or RMSNorm as in the LLaMA code; ε 1e-6) is used; then λ = (remaining steps)/DecaySteps falls linearly from 1 to 0 over
/// DecaySteps forwards; afterwards, and always in evaluation, the layer is pure RepBN. Used by notebook 15.</remarks>
public sealed class ProgressiveRepBatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm1")] private nn.Module<Tensor, Tensor> _layerNorm;
    [ComponentName(Name = "norm2")] private RepBatchNorm _repBatchNorm;

    /// <summary>A PRepBN over a last axis of width d = <paramref name="features"/>: LayerNorm (or RMSNorm) for <paramref name="warmSteps"/> training forwards, then a linear hand-over to RepBN over <paramref name="decaySteps"/>.</summary>
    /// <param name="features">Width d of the last axis.</param>
    /// <param name="warmSteps">Training forwards that use only the norm (λ = 1); 0 starts the decay at once.</param>
    /// <param name="decaySteps">Training forwards over which λ falls from 1 to 0; positive.</param>
    /// <param name="rmsNorm">Use RMSNorm on the λ path, as the LLaMA code, instead of LayerNorm.</param>
    /// <param name="eps">ε of the λ-path norm only (1e-6, the official code's); the RepBN keeps its 1e-5.</param>
    /// <param name="device">Device of the parameters and buffers (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and buffers (null: TorchSharp's default).</param>
    public ProgressiveRepBatchNorm(long features, long warmSteps, long decaySteps, bool rmsNorm = false, double eps = 1e-6, Device? device = null, ScalarType? dtype = null)
        : base(nameof(ProgressiveRepBatchNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmSteps);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(decaySteps);
        (Features, WarmSteps, DecaySteps) = (features, warmSteps, decaySteps);
        _layerNorm = rmsNorm ? new RmsNorm(features, eps, device: device, dtype: dtype) : new LayerNorm(features, eps, device: device, dtype: dtype);
        _repBatchNorm = new RepBatchNorm(features, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Width d of the last axis.</summary>
    public long Features { get; }
    /// <summary>Training forwards during which λ = 1 and only the norm path runs.</summary>
    public long WarmSteps { get; }
    /// <summary>Training forwards, after the warm phase, over which λ falls linearly from 1 to 0.</summary>
    public long DecaySteps { get; }
    /// <summary>The RepBN path (state key "norm2"): weight 1 − λ in training, the whole layer in evaluation and after the decay.</summary>
    public RepBatchNorm RepBatchNorm => _repBatchNorm;
    /// <summary>The λ path, a LayerNorm or an RMSNorm (state key "norm1"); unused in evaluation and once λ reaches 0.</summary>
    public nn.Module<Tensor, Tensor> LayerNorm => _layerNorm;

    /// <summary>Training forwards taken.</summary>
    public long Steps { get; private set; }

    /// <summary>The weight on the LayerNorm path for the next training forward.</summary>
    public double Lambda => Steps < WarmSteps ? 1.0 : Math.Clamp((double)(WarmSteps + DecaySteps - Steps) / DecaySteps, 0, 1);

    /// <summary>In training, λ·norm(x) + (1 − λ)·RepBN(x) for x [..., d] with λ = <see cref="Lambda"/> (each call advances <see cref="Steps"/>); in evaluation RepBN(x). Same shape out.</summary>
    public override Tensor forward(Tensor x)
    {
        if (!training)
            return _repBatchNorm.forward(x);
        using var scope = NewDisposeScope();
        var lambda = Lambda;
        Steps++;
        var y = lambda switch
        {
            1.0 when Steps <= WarmSteps => _layerNorm.forward(x),
            0.0 => _repBatchNorm.forward(x),
            _ => _layerNorm.forward(x) * lambda + _repBatchNorm.forward(x) * (1 - lambda),   // Eq. (5)
        };
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"ProgressiveRepBatchNorm({Features}, warm={WarmSteps}, decay={DecaySteps}, norm={_layerNorm})";
}
