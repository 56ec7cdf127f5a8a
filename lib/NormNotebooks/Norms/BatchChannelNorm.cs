// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Batch-Channel Normalization: a batch stage (BN, or estimated statistics for micro-batches) then a per-sample group stage.</summary>
/// <remarks>Qiao, Wang, Liu, Shen &amp; Yuille, "Micro-Batch Training with Batch-Channel Normalization and Weight Standardization",
/// arXiv:1903.10520, §4 and the official BCNorm/EstBN:
/// <list type="number">
/// <item>batch stage: BatchNorm per channel (large batches), or with <c>estimatedStatistics</c> EstBN: normalise with the running
/// μ̂, σ̂² even in training (no batch statistics in the graph) and update, without gradient, μ̂ ← (1 − r)μ̂ + r·mean_batch(x) and
/// σ̂² ← (1 − r)σ̂² + r·mean_batch((x − μ̂_old)²) — the variance is taken around the old running mean; r ↦ EstimationRate;</item>
/// <item>channel stage: per sample, per group of C/G channels over (C/G, H, W), mean and biased variance of the current sample
/// (train and eval), then a per-group affine (shape [1, G, 1], init 1 and 0), as in BCNorm. G ↦ Groups (32), ε = 1e-5.</item>
/// </list>
/// Input [N, C, H, W] (or [N, C, L]). Used by the micro-batch notebook.</remarks>
public sealed class BatchChannelNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "bn")] private BatchNorm? _batchNorm;
    [ComponentName(Name = "bn_weight")] private Parameter? _estWeight;
    [ComponentName(Name = "bn_bias")] private Parameter? _estBias;
    [ComponentName(Name = "running_mean")] private Tensor? _estMean;
    [ComponentName(Name = "running_var")] private Tensor? _estVar;
    [ComponentName(Name = "weight")] private Parameter _groupWeight;
    [ComponentName(Name = "bias")] private Parameter _groupBias;

    /// <summary>A BCNorm over <paramref name="channels"/> channels in <paramref name="groups"/> groups, whose batch stage is BatchNorm, or EstBN with <paramref name="estimatedStatistics"/>.</summary>
    /// <param name="channels">Number C of channels (axis 1).</param>
    /// <param name="groups">Number G of channel groups in the channel stage (32); must divide C.</param>
    /// <param name="eps">ε inside the root of both stages (1e-5).</param>
    /// <param name="estimatedStatistics">Use EstBN (running estimates in training too, for micro-batches) instead of BatchNorm in the batch stage.</param>
    /// <param name="estimationRate">r, EstBN's update rate (1e-3); unused without <paramref name="estimatedStatistics"/>.</param>
    /// <param name="device">Device of the parameters and running statistics (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and running statistics (null: TorchSharp's default).</param>
    public BatchChannelNorm(long channels, long groups = 32, double eps = 1e-5, bool estimatedStatistics = false, double estimationRate = 1e-3,
        Device? device = null, ScalarType? dtype = null) : base(nameof(BatchChannelNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        if (channels % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"BatchChannelNorm: {groups} groups do not divide {channels} channels.");
        (Channels, Groups, Eps, EstimatedStatistics, EstimationRate) = (channels, groups, eps, estimatedStatistics, estimationRate);
        if (estimatedStatistics)
        {
            _estWeight = new Parameter(ones(channels, dtype: dtype, device: device));
            _estBias = new Parameter(zeros(channels, dtype: dtype, device: device));
            _estMean = zeros(channels, dtype: dtype, device: device);
            _estVar = ones(channels, dtype: dtype, device: device);
        }
        else
        {
            _batchNorm = new BatchNorm(channels, eps, device: device, dtype: dtype);
        }
        _groupWeight = new Parameter(ones([1, groups, 1], dtype: dtype, device: device));
        _groupBias = new Parameter(zeros([1, groups, 1], dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>Number C of channels (axis 1).</summary>
    public long Channels { get; }
    /// <summary>Number G of channel groups in the channel stage; divides C.</summary>
    public long Groups { get; }
    /// <summary>ε, inside the root in both the batch and the channel stage.</summary>
    public double Eps { get; }
    /// <summary>Whether the batch stage is EstBN (running estimates μ̂, σ̂² in training too) rather than BatchNorm.</summary>
    public bool EstimatedStatistics { get; }

    /// <summary>r in the EstBN update (the authors' estbn_moving_speed; set by their training script).</summary>
    public double EstimationRate { get; set; }

    /// <summary>The batch stage's running mean μ̂, shape [C]: EstBN's estimate, or the inner BatchNorm's running mean.</summary>
    public Tensor? RunningMean => _estMean ?? _batchNorm?.RunningMean;
    /// <summary>The batch stage's running variance σ̂², shape [C]: EstBN's estimate (taken around the old mean), or the inner BatchNorm's unbiased running variance.</summary>
    public Tensor? RunningVar => _estVar ?? _batchNorm?.RunningVar;

    /// <summary>Applies the batch stage per channel, then normalises each sample's groups of C/G channels over (C/G, positions) and applies the per-group affine; input and output [N, C, H, W] or [N, C, L].</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireChannelAxis(x, Channels, 3, nameof(BatchChannelNorm), "[N, C, H, W] or [N, C, L]");
        using var scope = NewDisposeScope();
        var batchStage = EstimatedStatistics ? EstimatedBatchStage(x) : _batchNorm!.forward(x);
        var grouped = batchStage.reshape(x.shape[0], Groups, -1);                         // channel stage: [N, G, C/G·positions]
        var (centred, variance) = NormInput.CentreAndVariance(grouped, [-1L]);
        var y = centred * rsqrt(variance + Eps) * _groupWeight + _groupBias;             // per-group affine, as BCNorm
        return y.reshape(x.shape).MoveToOuterDisposeScope();
    }

    private Tensor EstimatedBatchStage(Tensor x)
    {
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[1] = Channels;
        if (training)
        {
            using (no_grad())
            {
                var reduce = Enumerable.Range(0, (int)x.dim()).Where(d => d != 1).Select(d => (long)d).ToArray();
                var batchMean = x.detach().mean(reduce);
                var aroundOldMean = (x.detach() - _estMean!.view(shape)).square().mean(reduce);   // around μ̂_old, not the batch mean
                _estMean!.mul_(1 - EstimationRate).add_(batchMean, alpha: EstimationRate);
                _estVar!.mul_(1 - EstimationRate).add_(aroundOldMean, alpha: EstimationRate);
            }
        }
        // The forward uses the running estimates in training too (after this step's update, as EstBN does).
        return (x - _estMean!.view(shape)) * rsqrt(_estVar!.view(shape) + Eps) * _estWeight!.view(shape) + _estBias!.view(shape);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"BatchChannelNorm({Channels}, groups={Groups}, eps={Eps:g}, estimated_statistics={EstimatedStatistics}{(EstimatedStatistics ? $", rate={EstimationRate:g}" : "")})";
}
