// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Batch normalisation: each channel is normalised with statistics over the batch (and positions).</summary>
/// <remarks>Ioffe &amp; Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
/// Shift", ICML 2015, arXiv:1502.03167, Alg. 1: x̂ = (x − μ_B)/√(σ²_B + ε), y = γx̂ + β. Training uses the batch's mean and
/// biased variance and updates running_mean ← (1 − m)·running_mean + m·μ_B and running_var ← (1 − m)·running_var + m·σ²_B·n/(n − 1)
/// (unbiased, as PyTorch); evaluation uses the running statistics. m ↦ Momentum (0.1) and ε ↦ Eps (1e-5) are PyTorch's
/// defaults. Channels are axis 1 ([N, C], [N, C, L], [N, C, H, W]); with channelsLast they are the last axis, as in a
/// Transformer's [B, T, d] (statistics over B·T). The state is PyTorch's BatchNorm1d/2d's, key for key, shape for shape and
/// dtype for dtype (weight, bias, running_mean, running_var and the int64 0-dim num_batches_tracked, counted up once per
/// training forward as PyTorch does), so a PyTorch state dict loads strictly and back. PyTorch's momentum=None (cumulative
/// average, 1/num_batches_tracked) is not offered. Used by notebooks 13 and the vision notebooks.</remarks>
public sealed class BatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter? _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;
    [ComponentName(Name = "running_mean")] private Tensor _runningMean;
    [ComponentName(Name = "running_var")] private Tensor _runningVar;
    [ComponentName(Name = "num_batches_tracked")] private Tensor _numBatchesTracked;

    /// <summary>A BatchNorm over <paramref name="channels"/> channels; γ starts at 1, β at 0, the running mean at 0, the running variance at 1 and the batch count at 0.</summary>
    /// <param name="channels">Number C of channels, each with its own statistics.</param>
    /// <param name="eps">ε, added to the variance inside the root (1e-5, PyTorch's default).</param>
    /// <param name="momentum">m in [0, 1], the weight of the current batch in the running-statistics update (0.1, PyTorch's default and convention).</param>
    /// <param name="affine">Learn γ and β.</param>
    /// <param name="channelsLast">Channels on the last axis ([B, T, d], statistics over B·T) instead of axis 1.</param>
    /// <param name="device">Device of the parameters and running statistics (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and running statistics (null: TorchSharp's default, float32 unless changed).</param>
    public BatchNorm(long channels, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool channelsLast = false,
        Device? device = null, ScalarType? dtype = null) : base(nameof(BatchNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        if (momentum is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Momentum must be in [0, 1].");
        (Channels, Eps, Momentum, Affine, ChannelsLast) = (channels, eps, momentum, affine, channelsLast);
        if (affine)
        {
            _weight = new Parameter(ones(channels, dtype: dtype, device: device));
            _bias = new Parameter(zeros(channels, dtype: dtype, device: device));
        }
        _runningMean = zeros(channels, dtype: dtype, device: device);
        _runningVar = ones(channels, dtype: dtype, device: device);
        _numBatchesTracked = tensor(0L, dtype: int64, device: device);
        RegisterComponents();
    }

    /// <summary>Number C of channels, each normalised with its own statistics, γ and β.</summary>
    public long Channels { get; }
    /// <summary>ε, added to the variance inside the root of Alg. 1 (batch variance in training, running variance in evaluation).</summary>
    public double Eps { get; }
    /// <summary>m, the weight of the current batch in the running-statistics update (PyTorch's convention).</summary>
    public double Momentum { get; }
    /// <summary>Whether γ and β are learned; without them <see cref="Weight"/> and <see cref="Bias"/> are null.</summary>
    public bool Affine { get; }
    /// <summary>Whether channels are the last axis ([B, T, d], statistics over B·T) rather than axis 1.</summary>
    public bool ChannelsLast { get; }
    /// <summary>γ of Alg. 1, shape [C], init 1 (state key "weight"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Weight => _weight;
    /// <summary>β of Alg. 1, shape [C], init 0 (state key "bias"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Bias => _bias;
    /// <summary>Running mean used in evaluation, shape [C], init 0 (buffer "running_mean", updated in place in training).</summary>
    public Tensor RunningMean => _runningMean;
    /// <summary>Running unbiased variance used in evaluation, shape [C], init 1 (buffer "running_var", updated in place in training).</summary>
    public Tensor RunningVar => _runningVar;
    /// <summary>Training forwards seen so far, an int64 scalar (0-dim) buffer "num_batches_tracked", as PyTorch's; it stays int64 when the module's floating dtype changes.</summary>
    public Tensor NumBatchesTracked => _numBatchesTracked;

    /// <summary>The last training batch's per-channel mean and biased variance (for fluctuation probes), or null.</summary>
    public (Tensor Mean, Tensor Var)? LastBatchStatistics { get; private set; }

    /// <summary>Normalises x ([N, C], [N, C, L], [N, C, H, W], or [..., C] with <see cref="ChannelsLast"/>) per channel, then applies γ and β; the output has x's shape and dtype.</summary>
    /// <remarks>Training uses the batch's mean and biased variance, updates the running statistics, <see cref="NumBatchesTracked"/> and <see cref="LastBatchStatistics"/>, and needs more than one value per channel; evaluation uses the running statistics. Half precision is computed in float32.</remarks>
    public override Tensor forward(Tensor x)
    {
        var axis = ChannelsLast ? x.dim() - 1 : 1;
        if (x.dim() < 2 || x.shape[axis] != Channels)
            throw new ArgumentException($"BatchNorm: expected input with {Channels} channels on axis {(ChannelsLast ? "-1" : "1")}, got [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        var input = NormInput.Upcast(x);
        var reduce = Enumerable.Range(0, (int)x.dim()).Where(d => d != axis).Select(d => (long)d).ToArray();
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[axis] = Channels;
        Tensor y;
        if (training)
        {
            var count = input.numel() / Channels;
            if (count < 2)
                throw new ArgumentException($"BatchNorm: training needs more than one value per channel, got input [{string.Join(", ", x.shape)}].", nameof(x));
            var mean = input.mean(reduce, keepdim: true);
            var centred = input - mean;
            var variance = centred.square().mean(reduce, keepdim: true);             // biased, two-pass
            y = centred * rsqrt(variance + Eps);                                       // Alg. 1, normalise
            using (no_grad())
            {
                var batchMean = mean.detach().flatten().to(_runningMean.dtype);
                var batchVar = variance.detach().flatten().to(_runningVar.dtype);
                _runningMean.mul_(1 - Momentum).add_(batchMean, alpha: Momentum);
                _runningVar.mul_(1 - Momentum).add_(batchVar * ((double)count / (count - 1)), alpha: Momentum);
                _numBatchesTracked.add_(1);
                LastBatchStatistics?.Mean.Dispose();
                LastBatchStatistics?.Var.Dispose();
                LastBatchStatistics = (batchMean.clone().DetachFromDisposeScope(), batchVar.clone().DetachFromDisposeScope());
            }
        }
        else
        {
            y = (input - _runningMean.to(input.dtype).view(shape)) * rsqrt(_runningVar.to(input.dtype).view(shape) + Eps);
        }
        if (Affine)
            y = y * _weight!.view(shape) + _bias!.view(shape);                     // Alg. 1, scale and shift
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The evaluation-mode map as (scale, shift) per channel: y = scale ⊙ x + shift with scale = γ/√(σ² + ε) and
    /// shift = β − γμ/√(σ² + ε) from the running statistics (γ = 1, β = 0 without affine). Detached.</summary>
    public (Tensor Scale, Tensor Shift) Folded()
    {
        using var scope = NewDisposeScope();
        var inverseStd = rsqrt(_runningVar + Eps);
        var weight = _weight?.detach() ?? ones_like(inverseStd);
        var bias = _bias?.detach() ?? zeros_like(inverseStd);
        return ((weight * inverseStd).MoveToOuterDisposeScope(), (bias - weight * _runningMean * inverseStd).MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override string ToString() => $"BatchNorm({Channels}, eps={Eps:g}, momentum={Momentum:g}, affine={Affine}, channels_last={ChannelsLast})";
}
