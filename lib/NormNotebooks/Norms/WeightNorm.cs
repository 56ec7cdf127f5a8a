// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Weight Normalization of a linear layer: each output row w = g·v/‖v‖.</summary>
/// <remarks>Salimans &amp; Kingma, "Weight Normalization: A Simple Reparameterization to Accelerate Training of Deep Neural
/// Networks", NeurIPS 2016, arXiv:1602.07868, Eq. (2): w = g/‖v‖·v per output unit. g ↦ Gain, initialised to ‖v₀‖ so w = v₀ at
/// start (PyTorch's weight_norm); the paper's data-dependent initialisation is left to the caller. The loss is invariant to
/// the scale of v, so ⟨v, ∂L/∂v⟩ = 0 (van Laarhoven 2017). Used by the L2-vs-normalisation notebook.</remarks>
public sealed class WeightNormLinear : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight_v")] private Parameter _direction;
    [ComponentName(Name = "weight_g")] private Parameter _gain;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    /// <summary>A weight-normalised linear layer [out, in]: v in PyTorch's default U(−1/√in, 1/√in) init and g = ‖v₀‖ per row, so w = v₀ at start.</summary>
    /// <param name="inFeatures">Width of the input's last axis.</param>
    /// <param name="outFeatures">Width of the output's last axis.</param>
    /// <param name="bias">Add a bias [out] in PyTorch's default init.</param>
    /// <param name="device">Device of the parameters (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters (null: TorchSharp's default).</param>
    public WeightNormLinear(long inFeatures, long outFeatures, bool bias = true, Device? device = null, ScalarType? dtype = null) : base(nameof(WeightNormLinear))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        var v = WeightStandardization.DefaultInit([outFeatures, inFeatures], inFeatures, device, dtype);
        _gain = new Parameter(v.norm(1, keepdim: true));
        _direction = new Parameter(v);
        if (bias)
            _bias = new Parameter(WeightStandardization.DefaultInit([outFeatures], inFeatures, device, dtype));
        RegisterComponents();
    }

    /// <summary>Width of the input's last axis (columns of w).</summary>
    public long InFeatures { get; }
    /// <summary>Width of the output's last axis (rows of w), each with its own g.</summary>
    public long OutFeatures { get; }
    /// <summary>v [out, in] of Eq. (2) (state key "weight_v"); only each row's direction reaches the output.</summary>
    public Parameter Direction => _direction;
    /// <summary>g of Eq. (2), shape [out, 1] (state key "weight_g"), init to each row's ‖v₀‖; the L2 norm of w's rows.</summary>
    public Parameter Gain => _gain;
    /// <summary>The bias [out], in PyTorch's default init; null without a bias.</summary>
    public Parameter? Bias => _bias;

    /// <summary>w = g·v/‖v‖ per row, [out, in] (Eq. 2), with gradient to g and v.</summary>
    public Tensor EffectiveWeight()
    {
        using var scope = NewDisposeScope();
        return (_gain * _direction / _direction.norm(1, keepdim: true)).MoveToOuterDisposeScope();   // Eq. (2)
    }

    /// <summary>x [..., in] → [..., out] through w = g·v/‖v‖.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(x, EffectiveWeight(), _bias).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"WeightNormLinear({InFeatures}, {OutFeatures}, bias={_bias is not null})";
}
