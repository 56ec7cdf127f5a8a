// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Ghost Batch Normalization: a large batch is normalised in "ghost" batches of a fixed virtual size.</summary>
/// <remarks>Hoffer, Hubara &amp; Soudry, "Train longer, generalize better: closing the generalization gap in large batch training of
/// neural networks", NeurIPS 2017, arXiv:1705.08741, Alg. 1: the batch is split into chunks of |B_S| samples (VirtualBatchSize,
/// 128 in the reference code); each chunk is normalised with its own statistics and updates the running statistics in turn,
/// exactly the sequence the reference's one-forward-per-chunk loop produces. Evaluation uses the running statistics like BN.
/// A last chunk smaller than the virtual size is normalised on its own. Used by the large-batch notebook.</remarks>
public sealed class GhostBatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "bn")] private BatchNorm _norm;

    /// <summary>A GhostBatchNorm over <paramref name="channels"/> channels: one affine BatchNorm applied to training batches in chunks of <paramref name="virtualBatchSize"/> samples.</summary>
    /// <param name="channels">Number C of channels.</param>
    /// <param name="virtualBatchSize">|B_S|, samples per ghost batch (128, the reference code's).</param>
    /// <param name="eps">ε of the inner BatchNorm (1e-5).</param>
    /// <param name="momentum">m of the inner BatchNorm (0.1); the running statistics take one update per ghost batch.</param>
    /// <param name="channelsLast">Channels on the last axis instead of axis 1; the batch is still split along axis 0.</param>
    /// <param name="device">Device of the parameters and running statistics (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and running statistics (null: TorchSharp's default).</param>
    public GhostBatchNorm(long channels, long virtualBatchSize = 128, double eps = 1e-5, double momentum = 0.1, bool channelsLast = false,
        Device? device = null, ScalarType? dtype = null) : base(nameof(GhostBatchNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(virtualBatchSize);
        VirtualBatchSize = virtualBatchSize;
        _norm = new BatchNorm(channels, eps, momentum, affine: true, channelsLast, device, dtype);
        RegisterComponents();
    }

    /// <summary>|B_S| in Alg. 1: samples (along axis 0) per ghost batch in training.</summary>
    public long VirtualBatchSize { get; }

    /// <summary>The BatchNorm applied to each ghost batch (its affine and running statistics).</summary>
    public BatchNorm Norm => _norm;

    /// <summary>In training, splits x along axis 0 into ghost batches of <see cref="VirtualBatchSize"/> samples (the last may be smaller), normalises each with its own statistics and concatenates them; in evaluation, or for a batch no larger than the virtual size, it is one <see cref="BatchNorm"/> pass. Shape unchanged.</summary>
    public override Tensor forward(Tensor x)
    {
        if (!training || x.shape[0] <= VirtualBatchSize)
            return _norm.forward(x);
        using var scope = NewDisposeScope();
        var chunks = x.split(VirtualBatchSize, 0).Select(chunk => _norm.forward(chunk)).ToArray();   // Alg. 1, one chunk at a time
        return cat(chunks, 0).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"GhostBatchNorm({_norm.Channels}, virtual_batch_size={VirtualBatchSize}, eps={_norm.Eps:g}, momentum={_norm.Momentum:g})";
}
