// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>EvoNorm-B0: a batch-dependent normalisation-activation layer that replaces BN + ReLU, with no mean subtraction.</summary>
/// <remarks>Liu, Brock, Simonyan &amp; Le, "Evolving Normalization-Activation Layers", NeurIPS 2020, arXiv:2004.02967, Table 1 and
/// the official tensorflow/tpu resnet_model.py (evonorm, _batch_std, _instance_std):
/// y = x / max(√(s²_batch + ε), v ⊙ x + √(s²_inst + ε)) ⊙ γ + β, the max elementwise. s²_batch: per-channel biased variance over
/// (N, H, W) in training (TF moments), the moving variance in evaluation (init 1, r ← r − (r − s²_batch)(1 − 0.9): momentum 0.1,
/// biased, unlike PyTorch BN's unbiased storage); s²_inst: per sample per channel over (H, W). γ (init 1, or 0 with zeroInit for
/// the last layer of a residual branch), β (0), v (1) have shape [1, C, 1, 1]; ε = 1e-5. Positively scale invariant.
/// Used by the EvoNorm notebook.</remarks>
public sealed class EvoNormB0 : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _gamma;
    [ComponentName(Name = "bias")] private Parameter _beta;
    [ComponentName(Name = "v")] private Parameter _v;
    [ComponentName(Name = "running_var")] private Tensor _runningVar;

    /// <summary>An EvoNorm-B0 over <paramref name="channels"/> channels; γ starts at 1 (0 with <paramref name="zeroInit"/>), β at 0, v at 1 and the moving variance at 1.</summary>
    /// <param name="channels">Number C of channels (axis 1 of [N, C, H, W]).</param>
    /// <param name="eps">ε, inside both roots (1e-5, the official code's).</param>
    /// <param name="momentum">Weight of the current batch in the moving-variance update: 1 − decay, 0.1 for the official decay 0.9.</param>
    /// <param name="zeroInit">Start γ at 0, for the last layer of a residual branch.</param>
    /// <param name="device">Device of the parameters and moving variance (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and moving variance (null: TorchSharp's default).</param>
    public EvoNormB0(long channels, double eps = 1e-5, double momentum = 0.1, bool zeroInit = false, Device? device = null, ScalarType? dtype = null)
        : base(nameof(EvoNormB0))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        (Channels, Eps, Momentum) = (channels, eps, momentum);
        _gamma = new Parameter((zeroInit ? zeros([1, channels, 1, 1], dtype: dtype, device: device) : ones([1, channels, 1, 1], dtype: dtype, device: device)));
        _beta = new Parameter(zeros([1, channels, 1, 1], dtype: dtype, device: device));
        _v = new Parameter(ones([1, channels, 1, 1], dtype: dtype, device: device));
        _runningVar = ones([1, channels, 1, 1], dtype: dtype, device: device);
        RegisterComponents();
    }

    /// <summary>Number C of channels, axis 1 of the [N, C, H, W] input.</summary>
    public long Channels { get; }
    /// <summary>ε, added inside both roots: √(s²_batch + ε) and √(s²_inst + ε).</summary>
    public double Eps { get; }
    /// <summary>Weight of the current batch in the moving-variance update r ← r − (r − s²_batch)·Momentum (1 − the official decay).</summary>
    public double Momentum { get; }
    /// <summary>γ, shape [1, C, 1, 1], init 1 (0 with zeroInit); state key "weight".</summary>
    public Parameter Weight => _gamma;
    /// <summary>β, shape [1, C, 1, 1], init 0; state key "bias".</summary>
    public Parameter Bias => _beta;
    /// <summary>v, the per-channel weight of x in the denominator's second branch v ⊙ x + √(s²_inst + ε); shape [1, C, 1, 1], init 1.</summary>
    public Parameter V => _v;
    /// <summary>The moving biased variance that stands in for s²_batch in evaluation; shape [1, C, 1, 1], init 1 (buffer "running_var").</summary>
    public Tensor RunningVar => _runningVar;

    /// <summary>Normalises and activates x [N, C, H, W] in one step, y = x / max(√(s²_batch + ε), v ⊙ x + √(s²_inst + ε)) ⊙ γ + β; same shape out.</summary>
    /// <remarks>In training s²_batch is the batch's biased variance over (N, H, W) and updates <see cref="RunningVar"/>; in evaluation it is <see cref="RunningVar"/>. Computed in the input's dtype (no float32 upcast).</remarks>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireChannelAxis(x, Channels, 4, nameof(EvoNormB0), "[N, C, H, W]");
        using var scope = NewDisposeScope();
        Tensor batchVar;
        if (training)
        {
            batchVar = x.var([0L, 2L, 3L], unbiased: false, keepdim: true);
            using (no_grad())
                _runningVar.sub_((_runningVar - batchVar.detach()) * Momentum);   // r ← r − (r − s²)(1 − decay)
        }
        else
        {
            batchVar = _runningVar;
        }
        var instanceStd = (x.var([2L, 3L], unbiased: false, keepdim: true) + Eps).sqrt();
        var instanceBranch = _v * x + instanceStd;
        var batchBranch = (batchVar + Eps).sqrt();
        if (RecordBranches)
            using (no_grad())
                LastInstanceBranchFraction = instanceBranch.gt(batchBranch).to(float64).mean().ToDouble();
        var denominator = maximum(batchBranch, instanceBranch);
        return (x / denominator * _gamma + _beta).MoveToOuterDisposeScope();
    }

    /// <summary>When set, every forward records in <see cref="LastInstanceBranchFraction"/> which side of the max won (a probe; off by default).</summary>
    public bool RecordBranches { get; set; }

    /// <summary>The fraction of elements of the last forward (with <see cref="RecordBranches"/> set) where the instance branch
    /// v ⊙ x + √(s²_inst + ε) exceeded the batch branch √(s²_batch + ε) and so set the denominator; null before any recorded forward.</summary>
    public double? LastInstanceBranchFraction { get; private set; }

    /// <inheritdoc/>
    public override string ToString() => $"EvoNormB0({Channels}, eps={Eps:g}, momentum={Momentum:g})";
}

/// <summary>EvoNorm-S0: a batch-independent normalisation-activation layer, x·σ(v⊙x)/√(s²_group + ε)·γ + β.</summary>
/// <remarks>Liu, Brock, Simonyan &amp; Le 2020, Table 1 and the official _group_std: s²_group is the biased variance per sample per group
/// of C/G channels over (C/G, H, W); G ↦ Groups, 32 decremented until it divides C (C = 48 → 24, 40 → 20). With v = 1 the
/// numerator is x·sigmoid(x) = SiLU(x), "the SiLU-variance form". Same in training and evaluation. Used by the EvoNorm notebook.</remarks>
public sealed class EvoNormS0 : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _gamma;
    [ComponentName(Name = "bias")] private Parameter _beta;
    [ComponentName(Name = "v")] private Parameter _v;

    /// <summary>An EvoNorm-S0 over <paramref name="channels"/> channels; γ starts at 1 (0 with <paramref name="zeroInit"/>), β at 0 and v at 1.</summary>
    /// <param name="channels">Number C of channels (axis 1 of [N, C, H, W]).</param>
    /// <param name="groups">G, which must divide C; null takes the official rule, <see cref="OfficialGroups"/>.</param>
    /// <param name="eps">ε, inside the root of the group variance (1e-5, the official code's).</param>
    /// <param name="zeroInit">Start γ at 0, for the last layer of a residual branch.</param>
    /// <param name="device">Device of the parameters (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters (null: TorchSharp's default).</param>
    public EvoNormS0(long channels, long? groups = null, double eps = 1e-5, bool zeroInit = false, Device? device = null, ScalarType? dtype = null)
        : base(nameof(EvoNormS0))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        Groups = groups ?? OfficialGroups(channels);
        if (channels % Groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"EvoNormS0: {Groups} groups do not divide {channels} channels.");
        (Channels, Eps) = (channels, eps);
        _gamma = new Parameter((zeroInit ? zeros([1, channels, 1, 1], dtype: dtype, device: device) : ones([1, channels, 1, 1], dtype: dtype, device: device)));
        _beta = new Parameter(zeros([1, channels, 1, 1], dtype: dtype, device: device));
        _v = new Parameter(ones([1, channels, 1, 1], dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>Number C of channels, axis 1 of the [N, C, H, W] input.</summary>
    public long Channels { get; }
    /// <summary>Number G of channel groups s²_group is taken over; divides C.</summary>
    public long Groups { get; }
    /// <summary>ε, added to s²_group inside the root.</summary>
    public double Eps { get; }
    /// <summary>γ, shape [1, C, 1, 1], init 1 (0 with zeroInit); state key "weight".</summary>
    public Parameter Weight => _gamma;
    /// <summary>β, shape [1, C, 1, 1], init 0; state key "bias".</summary>
    public Parameter Bias => _beta;
    /// <summary>v, the per-channel weight inside the sigmoid of the numerator x·σ(v ⊙ x); shape [1, C, 1, 1], init 1.</summary>
    public Parameter V => _v;

    /// <summary>The official rule: start at 32 groups and decrement until the count divides the channels.</summary>
    public static long OfficialGroups(long channels)
    {
        var groups = Math.Min(32, channels);
        while (channels % groups != 0)
            groups--;
        return groups;
    }

    /// <summary>Computes x·σ(v ⊙ x)/√(s²_group + ε)·γ + β for x [N, C, H, W], with s²_group per sample and group; same shape out, same in training and evaluation.</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireChannelAxis(x, Channels, 4, nameof(EvoNormS0), "[N, C, H, W]");
        using var scope = NewDisposeScope();
        var grouped = x.reshape(x.shape[0], Groups, -1);
        var groupStd = (grouped.var([-1L], unbiased: false, keepdim: true) + Eps).sqrt();
        var std = groupStd.expand(grouped.shape).reshape(x.shape);
        return (x * sigmoid(_v * x) / std * _gamma + _beta).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"EvoNormS0({Channels}, groups={Groups}, eps={Eps:g})";
}
