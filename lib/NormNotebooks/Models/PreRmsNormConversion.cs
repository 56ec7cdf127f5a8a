// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>Converts a Pre-LN <see cref="CharTransformer"/> into the equivalent Pre-RMSNorm model.</summary>
/// <remarks>Jiang, Gu, Zhu &amp; Pan, "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers", NeurIPS 2023,
/// arXiv:2305.14858, §3: every read of the residual stream goes through a LayerNorm, which discards the component along 1, so
/// (1) each LN's γ, β fold into the linear layer that reads it (W ← W·diag(γ), b ← b + Wβ: attention QKV, MLP input, head);
/// (2) everything that writes to the stream is re-centred: token and position embedding rows, and each sub-layer's output
/// projection W_out ← P·W_out, b_out ← P·b_out with P = I − 11ᵀ/d; (3) on that zero-mean stream LayerNorm equals RMSNorm with the
/// same ε, so every LN becomes a gain-free RMSNorm. The result computes the same function. Keeping the equivalence during training
/// (re-centring the output projections at every step) is the paper's LinearZeroMeanOutput and is not done here. Used by notebook 12.</remarks>
public static class PreRmsNormConversion
{
    /// <summary>A new Pre-RMSNorm model computing the same logits as <paramref name="preLn"/> (a Pre-LN LayerNorm model without σReparam).</summary>
    public static CharTransformer Convert(CharTransformer preLn)
    {
        ArgumentNullException.ThrowIfNull(preLn);
        var config = preLn.Config;
        if (config.Placement != NormPlacement.PreLN || config.Norm != "layernorm" || config.SigmaReparam)
            throw new ArgumentException($"Pre-RMSNorm conversion needs a Pre-LN LayerNorm model without σReparam; got {config.Placement}, {config.Norm}, σReparam {config.SigmaReparam}.", nameof(preLn));
        var eps = config.NormEps ?? 1e-5;
        var first = preLn.parameters().First();
        var converted = new CharTransformer(config with { Norm = "rmsnorm", NormEps = eps });
        converted.to(first.dtype).to(first.device);   // copy at the source's precision, on its device
        var source = preLn.state_dict();
        var target = converted.state_dict();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (name, tensor) in target)
            if (source.TryGetValue(name, out var value) && !name.Contains("norm", StringComparison.Ordinal))
                tensor.copy_(value);

        static Tensor Centre(Tensor rows) => rows - rows.mean([-1L], keepdim: true);   // each row minus its mean
        target["tok_emb.weight"].copy_(Centre(source["tok_emb.weight"]));
        target["pos_emb.weight"].copy_(Centre(source["pos_emb.weight"]));
        for (var i = 0; i < config.Depth; i++)
        {
            var block = $"blocks.{i}.";
            Fold(source, target, block + "norm1", block + "attn.qkv");
            Fold(source, target, block + "norm2", block + "mlp.fc");
            foreach (var writer in new[] { block + "attn.proj", block + "mlp.proj" })
            {
                // P·W_out: subtract the mean over the output dimension (rows of an [out = d, in] matrix).
                target[writer + ".weight"].copy_(source[writer + ".weight"] - source[writer + ".weight"].mean([0L], keepdim: true));
                target[writer + ".bias"].copy_(source[writer + ".bias"] - source[writer + ".bias"].mean());
            }
            target[block + "norm1.weight"].fill_(1);
            target[block + "norm2.weight"].fill_(1);
        }
        Fold(source, target, "final_norm", "head");
        target["final_norm.weight"].fill_(1);
        return converted;
    }

    // W ← W·diag(γ), b ← b + W·β for the linear layer that reads the norm.
    private static void Fold(IDictionary<string, Tensor> source, IDictionary<string, Tensor> target, string norm, string linear)
    {
        var (weight, bias) = Reparameterize.FoldIntoLinear(source[norm + ".weight"], source[norm + ".bias"], source[linear + ".weight"], source[linear + ".bias"]);
        target[linear + ".weight"].copy_(weight);
        target[linear + ".bias"].copy_(bias);
    }
}
