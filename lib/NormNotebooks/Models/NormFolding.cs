// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>Folds the norms of a trained Pre-LN <see cref="CharTransformer"/> whose inference map is a fixed per-feature affine
/// (Unified Normalization, BatchNorm, RepBN, progressive RepBN) into the linear layers that read them, leaving a model without
/// normalisation ops.</summary>
/// <remarks>In a Pre-LN model every norm feeds exactly one linear layer: norm1 → attention qkv, norm2 → MLP fc, the final norm → head.
/// A norm that computes y = a ⊙ x + c at inference folds as W′ = W·diag(a), b′ = b + W·c (<see cref="Reparameterize.FoldIntoLinear"/>):
/// Yang et al. 2022, §3.4 (UN: a = γ/√(r + ε), c = β); Guo et al. 2024, Eq. (4) (RepBN: a = γ/√(σ² + ε) + η, c = β − γμ/√(σ² + ε)).
/// LayerNorm, RMSNorm and PowerNorm (its group scaling is per token) do not fold. Used by notebooks 14 and 15.</remarks>
public static class NormFolding
{
    /// <summary>The inference map of <paramref name="norm"/> as (a, c), y = a ⊙ x + c over the last axis; detached copies.</summary>
    /// <exception cref="ArgumentException">A norm whose inference map depends on the token (LayerNorm, RMSNorm, PowerNorm, …).</exception>
    public static (Tensor Scale, Tensor Shift) AffineOf(nn.Module<Tensor, Tensor> norm)
    {
        ArgumentNullException.ThrowIfNull(norm);
        using var scope = NewDisposeScope();
        var (scale, shift) = norm switch
        {
            UnifiedNorm un => (un.FoldedScale(), un.Bias.detach().clone()),
            RepBatchNorm rep => rep.Folded(),
            ProgressiveRepBatchNorm progressive => progressive.RepBatchNorm.Folded(),   // its evaluation map is the RepBN path alone
            BatchNorm { ChannelsLast: true } bn => bn.Folded(),
            _ => throw new ArgumentException($"{norm.GetType().Name} has no fixed per-feature inference map to fold ({norm}); "
                + "foldable: UnifiedNorm, RepBatchNorm, ProgressiveRepBatchNorm, channels-last BatchNorm.", nameof(norm)),
        };
        return (scale.MoveToOuterDisposeScope(), shift.MoveToOuterDisposeScope());
    }

    /// <summary>A new model with the same embeddings, attention, MLPs and head as <paramref name="model"/> but no norms (Norm = "none"),
    /// whose qkv, fc and head absorb the norms' inference maps: it computes <paramref name="model"/>'s evaluation-mode logits.</summary>
    /// <exception cref="ArgumentException">Not Pre-LN, σReparam or centred writers (their linears are not plain), or a norm that does not fold.</exception>
    public static CharTransformer Fold(CharTransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        if (config.Placement != NormPlacement.PreLN || config.SigmaReparam || config.CentredWriters)
            throw new ArgumentException($"Folding needs a Pre-LN model with plain linear layers; got {config.Placement}, σReparam {config.SigmaReparam}, "
                + $"centred writers {config.CentredWriters}.", nameof(model));
        var first = model.parameters().First();
        var folded = new CharTransformer(config with { Norm = "none" });
        folded.to(first.dtype).to(first.device);
        var source = model.state_dict();
        var target = folded.state_dict();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (name, tensor) in target)
            tensor.copy_(source[name]);   // every parameter of the norm-free model exists in the source under the same name
        void Into(nn.Module<Tensor, Tensor> norm, string linear)
        {
            var (scale, shift) = AffineOf(norm);
            var (weight, bias) = Reparameterize.FoldIntoLinear(scale, shift, source[linear + ".weight"], source[linear + ".bias"]);
            target[linear + ".weight"].copy_(weight);
            target[linear + ".bias"].copy_(bias);
        }
        foreach (var block in model.Blocks)
        {
            Into(block.InputNorms.Attention, $"blocks.{block.Index}.attn.qkv");
            Into(block.InputNorms.Mlp, $"blocks.{block.Index}.mlp.fc");
        }
        Into(model.FinalNorm, "head");
        folded.eval();
        return folded;
    }
}
