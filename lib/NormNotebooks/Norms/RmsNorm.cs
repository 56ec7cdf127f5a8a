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

    /// <summary>An RMSNorm over a last axis of width n = <paramref name="features"/>; g starts at 1 and β at 0.</summary>
    /// <param name="features">Width n of the normalised last axis.</param>
    /// <param name="eps">ε, added to the mean square inside the root: 1e-8 (the authors' PyTorch value); 1e-5 matches their TF/Nematus models.</param>
    /// <param name="affine">Learn the gain g; without it the output is a/RMS(a).</param>
    /// <param name="bias">Add a learned shift β after the gain (LayerNorm's affine map); needs <paramref name="affine"/>.</param>
    /// <param name="implementation">Which code runs forward and backward (<see cref="NormImplementation"/>); null: <c>NORMNB_FUSED</c>, else the C# kernel, the faster here.</param>
    /// <param name="device">Device of g and β (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of g and β (null: TorchSharp's default, float32 unless changed).</param>
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

    /// <summary>Width n of the last axis this layer normalises.</summary>
    public long Features { get; }
    /// <summary>ε, added to the mean square inside the root of RMS(a).</summary>
    public double Eps { get; }
    /// <summary>Whether the gain g is learned; without it <see cref="Weight"/> is null.</summary>
    public bool Affine { get; }
    /// <summary>Whether a learned shift β follows the gain; without it <see cref="Bias"/> is null.</summary>
    public bool HasBias { get; }
    /// <summary>The code this module runs, fixed at construction.</summary>
    public NormImplementation Implementation { get; }
    /// <summary>The gain g of Eq. (4), shape [n], init 1 (state key "weight"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Weight => _weight;
    /// <summary>The shift β, shape [n], init 0 (state key "bias"); null unless <see cref="HasBias"/>.</summary>
    public Parameter? Bias => _bias;

    /// <summary>Divides x [..., n] by its RMS over the last axis, then applies g (and β); the output has x's shape and dtype.</summary>
    /// <remarks>Float16 and bfloat16 inputs are computed in float32; with <see cref="Implementation"/> <see cref="NormImplementation.Fused"/>, contiguous float32 CPU inputs take the C# kernel (<see cref="FusedNorms.RmsNorm"/>).</remarks>
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

    /// <inheritdoc/>
    public override string ToString() => $"RmsNorm({Features}, eps={Eps:g}, affine={Affine}{(HasBias ? ", bias" : "")}, implementation={Implementation})";
}

/// <summary>Partial RMSNorm: the RMS is estimated from the first k = ⌊n·p⌋ features only, then all n are scaled by it.</summary>
/// <remarks>Zhang &amp; Sennrich 2019, §4 (pRMSNorm): RMS_p(a) = √(1/k Σ_{i≤k} aᵢ² + ε), k = ⌊n·p⌋ (at least 1), as the
/// authors' code computes it (int(d·p)); p ↦ PartialFraction, 6.25% in the paper. Used by notebook 11.</remarks>
public sealed class PartialRmsNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;

    /// <summary>A pRMSNorm over a last axis of width n = <paramref name="features"/>, with the RMS taken over its first k = max(1, ⌊n·p⌋) features; g starts at 1.</summary>
    /// <param name="features">Width n of the normalised last axis.</param>
    /// <param name="partialFraction">p in (0, 1]; 0.0625 is the paper's 6.25%.</param>
    /// <param name="eps">ε, added inside the root of RMS_p (1e-8, as <see cref="RmsNorm"/>).</param>
    /// <param name="device">Device of g (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of g (null: TorchSharp's default, float32 unless changed).</param>
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

    /// <summary>Width n of the last axis; all n features are scaled, only the first k feed the RMS.</summary>
    public long Features { get; }
    /// <summary>p, the fraction of the n features that estimates the RMS.</summary>
    public double PartialFraction { get; }
    /// <summary>k = max(1, ⌊n·p⌋), the number of leading features RMS_p is taken over.</summary>
    public long PartialFeatures { get; }
    /// <summary>ε, added inside the root of RMS_p.</summary>
    public double Eps { get; }
    /// <summary>The gain g, shape [n], init 1 (state key "weight"; always learned).</summary>
    public Parameter Weight => _weight;

    /// <summary>Scales every feature of x [..., n] by 1/RMS_p of its first k features, then by g; the output has x's shape and dtype (half precision computed in float32).</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(PartialRmsNorm));
        using var scope = NewDisposeScope();
        var input = NormInput.Upcast(x);
        var partial = input.narrow(-1, 0, PartialFeatures);
        var y = input * rsqrt(partial.square().mean([-1L], keepdim: true) + Eps) * _weight;   // a / RMS_p(a) · g
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"PartialRmsNorm({Features}, partial_fraction={PartialFraction:g}, k={PartialFeatures}, eps={Eps:g})";
}
