// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>LayerNorm Scaling: the output of the wrapped norm divided by √ℓ for the block at (1-based) depth ℓ.</summary>
/// <remarks>Sun, Song, Li, Yin, Zheng &amp; Liu, "The Curse of Depth in Large Language Models", NeurIPS 2025, arXiv:2502.05795,
/// Eq. (9): h = x + Attn(LN(x)/√ℓ), x′ = h + FFN(LN(h)/√ℓ); no new parameters. The authors' code uses
/// 1/√(layer_index + 1) with a 0-based index; ℓ here is 1-based. The paper's norm is RMSNorm with ε = 1e-6. Used by
/// notebook 18.</remarks>
public sealed class LayerNormScaling : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "norm")] private nn.Module<Tensor, Tensor> _norm;

    /// <param name="norm">The norm whose output is scaled.</param>
    /// <param name="depth">ℓ, the 1-based index of the block the norm sits in.</param>
    public LayerNormScaling(nn.Module<Tensor, Tensor> norm, int depth) : base(nameof(LayerNormScaling))
    {
        ArgumentNullException.ThrowIfNull(norm);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        _norm = norm;
        (Depth, Scale) = (depth, 1 / Math.Sqrt(depth));
        RegisterComponents();
    }

    /// <summary>ℓ, the 1-based depth of the block the wrapped norm sits in.</summary>
    public int Depth { get; }

    /// <summary>1/√ℓ.</summary>
    public double Scale { get; }

    /// <summary>The wrapped norm (state key "norm"), whose parameters are unchanged by the scaling.</summary>
    public nn.Module<Tensor, Tensor> Norm => _norm;

    /// <summary>The wrapped norm's output times 1/√ℓ (Eq. 9); shapes are the wrapped norm's.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return (_norm.forward(x) * Scale).MoveToOuterDisposeScope();   // Eq. (9)
    }

    /// <inheritdoc/>
    public override string ToString() => $"LayerNormScaling({_norm}, depth={Depth}, scale={Scale:g6})";
}
