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
/// By default forward and backward are libtorch's <c>layer_norm</c>: our C# kernel (<see cref="FusedNorms.LayerNorm"/>, selectable with
/// <see cref="NormImplementation.Fused"/>) is faster alone at the training shapes, but a training step with it was not (see
/// <see cref="NormImplementation"/>), so libtorch's is the LayerNorm baseline any comparison here runs against. Used by notebooks
/// 00, 11, 12, 13, 16, 17, 18.</remarks>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter? _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    /// <summary>A LayerNorm over a last axis of width n = <paramref name="features"/>; g starts at 1 and b at 0.</summary>
    /// <param name="features">Width n of the normalised last axis.</param>
    /// <param name="eps">ε, added to the biased variance inside the root (1e-5, PyTorch's default).</param>
    /// <param name="affine">Learn the gain g and bias b; without them the output is (x − μ)/√(σ² + ε).</param>
    /// <param name="implementation">Which code runs forward and backward (<see cref="NormImplementation"/>); null: <c>NORMNB_FUSED</c>, else libtorch's <c>layer_norm</c>, the faster in a training step here.</param>
    /// <param name="device">Device of g and b (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of g and b (null: TorchSharp's default, float32 unless changed).</param>
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

    /// <summary>Width n of the last axis this layer normalises.</summary>
    public long Features { get; }
    /// <summary>ε, added to the biased variance σ² inside the root of Eq. (4).</summary>
    public double Eps { get; }
    /// <summary>Whether g and b are learned; without them <see cref="Weight"/> and <see cref="Bias"/> are null.</summary>
    public bool Affine { get; }
    /// <summary>The code this module runs, fixed at construction.</summary>
    public NormImplementation Implementation { get; }
    /// <summary>The gain g of Eq. (4), shape [n], init 1 (state key "weight"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Weight => _weight;
    /// <summary>The bias b of Eq. (4), shape [n], init 0 (state key "bias"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Bias => _bias;

    /// <summary>
    /// When set, the layer is removed in the sense of Heimersheim (2024) and Baroni et al. (2025): every token's centred input is
    /// divided by this fixed scalar s instead of its own √(σ² + ε), y = g ⊙ (x − μ)/s + b, which is linear in x (and can be folded
    /// into the next linear map). Null (the default) is the ordinary LayerNorm.
    /// </summary>
    public double? FixedScale
    {
        get => _fixedScale;
        set => _fixedScale = value is null or (> 0 and < double.PositiveInfinity) ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "LayerNorm.FixedScale must be a positive finite number (or null for the ordinary LayerNorm).");
    }
    private double? _fixedScale;

    /// <summary>While true, every training-mode forward of the ordinary LayerNorm updates <see cref="TrackedScale"/>, the exponential
    /// moving average (momentum <see cref="ScaleMomentum"/>) of the mean per-token √(σ² + ε) of its input: the scalar
    /// <see cref="FixedScale"/> takes when the layer is removed.</summary>
    public bool TrackScale { get; set; }

    /// <summary>The moving average of the input's mean per-token √(σ² + ε) (null until a tracked forward ran); the first tracked forward sets it.</summary>
    public double? TrackedScale { get; set; }

    /// <summary>Weight of the old value in <see cref="TrackedScale"/>'s moving average (0.9, as the reference removal code).</summary>
    public double ScaleMomentum { get; set; } = 0.9;

    /// <summary>Replaces the per-token scale by <see cref="TrackedScale"/> (see <see cref="FixedScale"/>).</summary>
    /// <exception cref="InvalidOperationException">No tracked forward has run.</exception>
    public void RemoveNormalization() =>
        FixedScale = TrackedScale ?? throw new InvalidOperationException("LayerNorm.RemoveNormalization: no scale tracked yet; set TrackScale and run a training-mode forward first, or set FixedScale.");

    /// <summary>Re-centres and re-scales x [..., n] over its last axis (Eq. 4) with libtorch's <c>layer_norm</c>, or the C# kernel when <see cref="Implementation"/> is <see cref="NormImplementation.Fused"/> and x is contiguous float32 on the CPU; the output has x's shape and dtype. With <see cref="FixedScale"/> set, divides by it instead (torch ops).</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireLastAxis(x, Features, nameof(LayerNorm));
        if (_fixedScale is { } scale)
        {
            using var scope = NewDisposeScope();
            var y = (x - x.mean([-1L], keepdim: true)) / scale;
            return (_weight is null ? y : y * _weight + _bias!).MoveToOuterDisposeScope();
        }
        if (TrackScale && training)
            using (no_grad())
            {
                var current = (x.detach().var(-1, unbiased: false) + Eps).sqrt().mean().ToDouble();
                TrackedScale = TrackedScale is { } old ? ScaleMomentum * old + (1 - ScaleMomentum) * current : current;
            }
        if (Implementation == NormImplementation.Fused && FusedNorms.Applies(x, _weight, _bias))
            return FusedNorms.LayerNorm(x, _weight, _bias, Eps);               // Eq. (4), our C# kernel
        return nn.functional.layer_norm(x, [Features], _weight, _bias, Eps);   // Eq. (4), libtorch's fused kernel on every device
    }

    /// <inheritdoc/>
    public override string ToString() => $"LayerNorm({Features}, eps={Eps:g}, affine={Affine}, implementation={Implementation}{(_fixedScale is { } s ? $", removed: fixed scale {s:g}" : "")})";
}
