// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Layer normalisation over the last axis: each sample's features are re-centred and re-scaled.</summary>
/// <remarks>Ba, Kiros &amp; Hinton, "Layer Normalization", arXiv:1607.06450 (2016), Eq. (4):
/// yᵢ = gᵢ·(xᵢ − μ)/√(σ² + ε) + bᵢ, μ = 1/n Σ xᵢ, σ² = 1/n Σ (xᵢ − μ)² (biased). g ↦ Weight (init 1), b ↦ Bias (init 0),
/// ε ↦ Eps (1e-5, PyTorch's default), ε inside the root as in PyTorch. The variance is computed in two passes
/// (mean, then the centred mean square), never as E[x²] − E[x]². Invariant to re-scaling and re-centring of each sample's input.
/// By default the forward is libtorch's <c>layer_norm</c>: on this project's CPU it is faster forward and backward than our C# kernel
/// (<see cref="FusedNorms.LayerNorm"/>, selectable with <see cref="NormImplementation.Fused"/>) at every width measured, so it is the
/// LayerNorm baseline any comparison here runs against. Used by notebooks 00, 11, 12, 13, 16, 17, 18.</remarks>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter? _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    public LayerNorm(long features, double eps = 1e-5, bool affine = true, NormImplementation? implementation = null, Device? device = null,
        ScalarType? dtype = null) : base(nameof(LayerNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegative(eps);
        (Features, Eps, Affine) = (features, eps, affine);
        Implementation = NormImplementations.Resolve(implementation, fastest: NormImplementation.Torch);
        if (affine)
        {
            _weight = new Parameter(ones(features, dtype: dtype, device: device));
            _bias = new Parameter(zeros(features, dtype: dtype, device: device));
        }
        RegisterComponents();
    }

    public long Features { get; }
    public double Eps { get; }
    public bool Affine { get; }
    public NormImplementation Implementation { get; }
    public Parameter? Weight => _weight;
    public Parameter? Bias => _bias;

    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(LayerNorm));
        if (Implementation == NormImplementation.Fused && FusedNorms.Applies(x, _weight, _bias))
            return FusedNorms.LayerNorm(x, _weight, _bias, Eps);               // Eq. (4), our C# kernel
        return nn.functional.layer_norm(x, [Features], _weight, _bias, Eps);   // Eq. (4), libtorch's fused kernel on every device
    }

    public override string ToString() => $"LayerNorm({Features}, eps={Eps:g}, affine={Affine}, implementation={Implementation})";
}
