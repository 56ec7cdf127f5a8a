// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

/// <summary>Ghost BatchNorm and Batch-Channel Normalization.</summary>
public sealed class BatchFamilyTests
{
    [Fact]
    public void GhostBatchNorm_EqualsBatchNormOnEachChunkInTurn_IncludingRunningStatistics()
    {
        using var scope = NewDisposeScope();
        var ghost = new GhostBatchNorm(4, virtualBatchSize: 8, dtype: ScalarType.Float64);
        var plain = new BatchNorm(4, dtype: ScalarType.Float64);
        var x = Inputs.Random([20, 4, 3], ScalarType.Float64);
        var expected = cat([plain.forward(x[..8]), plain.forward(x[8..16]), plain.forward(x[16..])], 0);
        Tolerances.AssertClose(expected, ghost.forward(x), Tolerances.Float64, what: "output");
        Tolerances.AssertClose(plain.RunningMean, ghost.Norm.RunningMean, Tolerances.Float64, what: "running mean after three chunk updates");
        Tolerances.AssertClose(plain.RunningVar, ghost.Norm.RunningVar, Tolerances.Float64, what: "running variance");
        Assert.Equal(3L, ghost.Norm.NumBatchesTracked.item<long>());   // one per ghost batch, as the reference's one forward per chunk
        var whole = new BatchNorm(4, dtype: ScalarType.Float64).forward(x);
        // Measured: ghost batches of 8 move the output by up to 1.02 from whole-batch statistics; the bar is a thousandth of that.
        const double ghostEffect = 1e-3;
        Assert.True((whole - ghost.forward(x)).abs().max().item<double>() > ghostEffect, "ghost statistics must differ from whole-batch ones");
    }

    [Fact]
    public void Bcn_ChannelStage_IsGroupNormWithAPerGroupAffine()
    {
        using var scope = NewDisposeScope();
        var bcn = new BatchChannelNorm(8, groups: 2, dtype: ScalarType.Float64);
        using (no_grad())
        {
            bcn.get_parameter("weight")!.copy_(tensor(new[] { 1.5, 0.5 }, float64).view(1, 2, 1));
            bcn.get_parameter("bias")!.copy_(tensor(new[] { 0.25, -1.0 }, float64).view(1, 2, 1));
        }
        var x = Inputs.Random([3, 8, 4, 4], ScalarType.Float64);
        var batchStage = nn.functional.batch_norm(x, zeros(8, dtype: float64), ones(8, dtype: float64), training: true);
        var grouped = nn.functional.group_norm(batchStage, 2, eps: 1e-5).reshape(3, 2, -1);
        var expected = (grouped * tensor(new[] { 1.5, 0.5 }, float64).view(1, 2, 1) + tensor(new[] { 0.25, -1.0 }, float64).view(1, 2, 1)).reshape(x.shape);
        // Statistics over N·H·W = 48 (batch stage) and C/G·H·W = 64 (channel stage) values, summed in another order than libtorch's.
        Tolerances.AssertCloseNormwise(expected, bcn.forward(x), Tolerances.Float64Sum(64));
    }

    [Fact]
    public void EstBn_IsBatchIndependent_AndUpdatesAroundTheOldMean()
    {
        using var scope = NewDisposeScope();
        var bcn = new BatchChannelNorm(4, groups: 2, estimatedStatistics: true, estimationRate: 0.25, dtype: ScalarType.Float64);
        var x = Inputs.Random([6, 4, 3, 3], ScalarType.Float64);
        var oldMean = bcn.RunningMean!.clone();
        var oldVar = bcn.RunningVar!.clone();
        var full = bcn.forward(x);
        var batchMean = x.mean([0L, 2L, 3L]);
        var aroundOld = (x - oldMean.view(1, 4, 1, 1)).square().mean([0L, 2L, 3L]);
        Tolerances.AssertClose(0.75 * oldMean + 0.25 * batchMean, bcn.RunningMean!, Tolerances.Float64, what: "μ̂ update");
        Tolerances.AssertClose(0.75 * oldVar + 0.25 * aroundOld, bcn.RunningVar!, Tolerances.Float64, what: "σ̂² update around the old mean");

        bcn.EstimationRate = 0;   // freeze the estimates: then sample 0's output cannot depend on the others
        var alone = bcn.forward(x[..1]);
        var together = bcn.forward(x)[..1];
        Tolerances.AssertClose(alone, together, Tolerances.Float64, what: "batch-independent forward");
        Assert.Equal(x.shape, full.shape);
    }
}
