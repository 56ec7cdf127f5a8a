// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Folding per-feature affine maps into the linear layer that reads them.</summary>
public static class Reparameterize
{
    /// <summary>
    /// For y = W·(scale ⊙ x + shift) + b returns W′ = W·diag(scale), b′ = b + W·shift, so that W′x + b′ computes the same map
    /// without the norm. <paramref name="weight"/> is [out, in]; <paramref name="bias"/> may be null.
    /// </summary>
    public static (Tensor Weight, Tensor Bias) FoldIntoLinear(Tensor scale, Tensor shift, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var foldedWeight = weight.detach() * scale.unsqueeze(0);
        var foldedBias = weight.detach().mv(shift) + (bias?.detach() ?? zeros(weight.shape[0], dtype: weight.dtype, device: weight.device));
        return (foldedWeight.MoveToOuterDisposeScope(), foldedBias.MoveToOuterDisposeScope());
    }
}
