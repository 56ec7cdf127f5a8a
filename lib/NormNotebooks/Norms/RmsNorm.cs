// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Root-mean-square normalisation over the last axis (re-scaling, no re-centring).</summary>
/// <remarks>Zhang &amp; Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019, arXiv:1910.07467, Eq. (4):
/// āᵢ = gᵢ·aᵢ/RMS(a), RMS(a) = √(1/n Σ aᵢ² + ε). g ↦ Weight (init 1); no bias (the paper's default).
/// ε ↦ Eps, inside the root as in the authors' TF/Nematus code, which uses 1e-5; the default 1e-8 is the value of their PyTorch
/// file, which adds it outside the root (the invariances do not depend on it). Pass 1e-5 to match the TF/Nematus models.
/// Invariant to re-scaling, not to re-centring; on a zero-mean input it equals LayerNorm with the same ε. With <c>bias</c> a learned shift β (init 0) follows the gain: that is LayerNorm's
/// affine map, so a Pre-RMSNorm model with centred writers trains exactly like Pre-LN (notebook 12). Used by notebooks 11, 12, 18.</remarks>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter? _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    public RmsNorm(long features, double eps = 1e-8, bool affine = true, bool bias = false, NormImplementation? implementation = null,
        Device? device = null, ScalarType? dtype = null) : base(nameof(RmsNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegative(eps);
        if (bias && !affine)
            throw new ArgumentException("RmsNorm: a bias needs the affine gain (affine: true).", nameof(bias));
        (Features, Eps, Affine, HasBias) = (features, eps, affine, bias);
        Implementation = NormImplementations.Resolve(implementation, fastest: NormImplementation.Fused);
        if (affine)
            _weight = new Parameter(ones(features, dtype: dtype, device: device));
        if (bias)
            _bias = new Parameter(zeros(features, dtype: dtype, device: device));
        RegisterComponents();
    }

    public long Features { get; }
    public double Eps { get; }
    public bool Affine { get; }
    public bool HasBias { get; }
    public NormImplementation Implementation { get; }
    public Parameter? Weight => _weight;
    public Parameter? Bias => _bias;

    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(RmsNorm));
        if (Implementation == NormImplementation.Fused && FusedNorms.Applies(x, _weight, _bias))
            return HasBias ? FusedNorms.RmsNorm(x, _weight, Eps) + _bias! : FusedNorms.RmsNorm(x, _weight, Eps);   // CPU float32 fast path
        using var scope = NewDisposeScope();
        var input = NormInput.Upcast(x);
        var y = input * rsqrt(input.square().mean([-1L], keepdim: true) + Eps);   // Eq. (4): a / RMS(a)
        if (Affine)
            y = y * _weight!;
        if (HasBias)
            y = y + _bias!;
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    public override string ToString() => $"RmsNorm({Features}, eps={Eps:g}, affine={Affine}{(HasBias ? ", bias" : "")}, implementation={Implementation})";
}

/// <summary>Partial RMSNorm: the RMS is estimated from the first k = ⌊n·p⌋ features only, then all n are scaled by it.</summary>
/// <remarks>Zhang &amp; Sennrich 2019, §4 (pRMSNorm): RMS_p(a) = √(1/k Σ_{i≤k} aᵢ² + ε), k = ⌊n·p⌋ (at least 1), as the
/// authors' code computes it (int(d·p)); p ↦ PartialFraction, 6.25% in the paper. Used by notebook 11.</remarks>
public sealed class PartialRmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;

    public PartialRmsNorm(long features, double partialFraction = 0.0625, double eps = 1e-8, Device? device = null, ScalarType? dtype = null) : base(nameof(PartialRmsNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if (partialFraction is <= 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(partialFraction), partialFraction, "The partial fraction p must be in (0, 1].");
        (Features, PartialFraction, Eps) = (features, partialFraction, eps);
        PartialFeatures = Math.Max(1, (long)(features * partialFraction));
        _weight = new Parameter(ones(features, dtype: dtype, device: device));
        RegisterComponents();
    }

    public long Features { get; }
    public double PartialFraction { get; }
    public long PartialFeatures { get; }
    public double Eps { get; }
    public Parameter Weight => _weight;

    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(PartialRmsNorm));
        using var scope = NewDisposeScope();
        var input = NormInput.Upcast(x);
        var partial = input.narrow(-1, 0, PartialFeatures);
        var y = input * rsqrt(partial.square().mean([-1L], keepdim: true) + Eps) * _weight;   // a / RMS_p(a) · g
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    public override string ToString() => $"PartialRmsNorm({Features}, partial_fraction={PartialFraction:g}, k={PartialFeatures}, eps={Eps:g})";
}
