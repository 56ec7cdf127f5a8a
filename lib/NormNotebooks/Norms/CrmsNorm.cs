// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Compressed RMSNorm: RMSNorm of a zero-mean d-vector stored as its first d − 1 coordinates.</summary>
/// <remarks>Jiang, Gu, Zhu &amp; Pan, "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN
/// Transformers", NeurIPS 2023, arXiv:2305.14858, Eq. (8): for x ∈ ℝ^(d−1) holding z ∈ ℝ^d with Σ z = 0,
/// CRMSNorm(x) = x / √((Σᵢ xᵢ² + (Σᵢ xᵢ)²)/d + ε): the dropped coordinate z_d = −Σ xᵢ is added back to the mean square,
/// which divides by d, not d − 1. It equals the first d − 1 coordinates of RMSNorm(z). The converted model carries no
/// gain here (it was folded into the next linear layer), so Affine is off by default. Used by notebook 12.</remarks>
public sealed class CrmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter? _weight;

    /// <param name="features">The stored width d − 1.</param>
    /// <param name="eps">ε inside the root, as RmsNorm.</param>
    /// <param name="affine">Learn a per-feature gain.</param>
    /// <param name="device">Device of the gain.</param>
    /// <param name="dtype">Type of the gain.</param>
    public CrmsNorm(long features, double eps = 1e-8, bool affine = false, Device? device = null, ScalarType? dtype = null) : base(nameof(CrmsNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        (Features, Eps, Affine) = (features, eps, affine);
        if (affine)
            _weight = new Parameter(ones(features, dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>The stored width d − 1; the full width is Features + 1.</summary>
    public long Features { get; }
    /// <summary>ε, added to the mean square inside the root of Eq. (8).</summary>
    public double Eps { get; }
    /// <summary>Whether a per-feature gain of width d − 1 is learned; off by default, since the conversion folds the gain into the next linear layer.</summary>
    public bool Affine { get; }
    /// <summary>The gain, shape [d − 1], init 1 (state key "weight"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Weight => _weight;

    /// <summary>Divides x [..., d − 1] by the RMS of the zero-mean d-vector it stores (Eq. 8); the output has x's shape and dtype (half precision computed in float32).</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(CrmsNorm));
        using var scope = NewDisposeScope();
        var input = NormInput.Upcast(x);
        var meanSquare = (input.square().sum([-1L], keepdim: true) + input.sum([-1L], keepdim: true).square()) / (Features + 1);
        var y = input * rsqrt(meanSquare + Eps);   // Eq. (8)
        if (Affine)
            y = y * _weight!;
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"CrmsNorm({Features}, eps={Eps:g}, affine={Affine})";
}
