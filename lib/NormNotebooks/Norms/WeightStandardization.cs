// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Which variance Weight Standardization divides by; the official material has three.</summary>
public enum StandardizationVariance
{
    /// <summary>√(unbiased variance + ε): the authors' ImageNet layers.py, which trained their models (default).</summary>
    UnbiasedEpsInside,

    /// <summary>unbiased std + ε: the PyTorch snippet in the authors' README.</summary>
    UnbiasedEpsOutside,

    /// <summary>population std + ε: the TensorFlow snippet in the authors' README.</summary>
    PopulationEpsOutside,
}

/// <summary>Weight Standardization: each output channel's weights re-centred and re-scaled before use.</summary>
/// <remarks>Qiao, Wang, Liu, Shen &amp; Yuille, "Micro-Batch Training with Batch-Channel Normalization and Weight
/// Standardization", arXiv:1903.10520, Eq. (5): Ŵ_o = (W_o − mean(W_o))/std(W_o) over the fan-in (I, k, k) of output o;
/// gradients flow through the standardisation. ε = 1e-5; the variance flavour is <see cref="StandardizationVariance"/>
/// (they differ by O(1/n) in scale, which a following norm removes). The authors recommend it only before BN/GN.
/// Used by the vision notebooks (micro-batch, NF-ResNets).</remarks>
public static class WeightStandardization
{
    /// <summary>Standardises <paramref name="weight"/> [O, …] per output channel (axis 0).</summary>
    public static Tensor Standardize(Tensor weight, StandardizationVariance variance = StandardizationVariance.UnbiasedEpsInside, double eps = 1e-5)
    {
        using var scope = NewDisposeScope();
        var flat = weight.reshape(weight.shape[0], -1);
        var centred = flat - flat.mean([1L], keepdim: true);
        var unbiased = variance != StandardizationVariance.PopulationEpsOutside;
        var var = flat.var([1L], unbiased: unbiased, keepdim: true);
        var scale = variance == StandardizationVariance.UnbiasedEpsInside ? (var + eps).sqrt() : var.sqrt() + eps;
        return (centred / scale).reshape(weight.shape).MoveToOuterDisposeScope();
    }

    /// <summary>PyTorch's default init for a layer with this fan-in: U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5).</summary>
    internal static Tensor DefaultInit(long[] shape, long fanIn, Device? device, ScalarType? dtype)
    {
        var bound = 1 / Math.Sqrt(fanIn);
        return empty(shape, dtype: dtype, device: device).uniform_(-bound, bound);
    }
}

/// <summary>A 2-D convolution whose weights are standardised per output channel at every forward (Qiao et al. 2019).</summary>
public sealed class WeightStandardizedConv2d : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    /// <summary>A weight-standardised 2-D convolution with weights [O, I, k, k] and bias in PyTorch's default U(−1/√(I·k·k), 1/√(I·k·k)) init.</summary>
    /// <param name="inChannels">I, channels of the input.</param>
    /// <param name="outChannels">O, channels of the output.</param>
    /// <param name="kernelSize">k of the square k × k kernel.</param>
    /// <param name="stride">Stride on both spatial axes.</param>
    /// <param name="padding">Zero padding on each side of both spatial axes.</param>
    /// <param name="bias">Add a bias [O] (not standardised).</param>
    /// <param name="variance">Variance flavour; the default is the authors' ImageNet layers.</param>
    /// <param name="eps">ε of the standardisation (1e-5).</param>
    /// <param name="device">Device of the parameters (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters (null: TorchSharp's default).</param>
    public WeightStandardizedConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true,
        StandardizationVariance variance = StandardizationVariance.UnbiasedEpsInside, double eps = 1e-5, Device? device = null, ScalarType? dtype = null)
        : base(nameof(WeightStandardizedConv2d))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        (InChannels, OutChannels, KernelSize, Stride, Padding, Variance, Eps) = (inChannels, outChannels, kernelSize, stride, padding, variance, eps);
        var fanIn = inChannels * kernelSize * kernelSize;
        _weight = new Parameter(WeightStandardization.DefaultInit([outChannels, inChannels, kernelSize, kernelSize], fanIn, device, dtype));
        if (bias)
            _bias = new Parameter(WeightStandardization.DefaultInit([outChannels], fanIn, device, dtype));
        RegisterComponents();
    }

    /// <summary>I, channels of the [N, I, H, W] input.</summary>
    public long InChannels { get; }
    /// <summary>O, output channels, each with its own standardised filter over the fan-in (I, k, k).</summary>
    public long OutChannels { get; }
    /// <summary>k of the square k × k kernel.</summary>
    public long KernelSize { get; }
    /// <summary>Stride on both spatial axes.</summary>
    public long Stride { get; }
    /// <summary>Zero padding added to each side of both spatial axes.</summary>
    public long Padding { get; }
    /// <summary>Which variance Ŵ divides by, and where ε goes.</summary>
    public StandardizationVariance Variance { get; }
    /// <summary>ε of the standardisation, inside or outside the root as <see cref="Variance"/> says.</summary>
    public double Eps { get; }
    /// <summary>The raw W [O, I, k, k] (state key "weight"); the convolution uses its standardised Ŵ.</summary>
    public Parameter Weight => _weight;
    /// <summary>The bias [O], in PyTorch's default init and not standardised; null without a bias.</summary>
    public Parameter? Bias => _bias;

    /// <summary>Ŵ, the weights the convolution uses.</summary>
    public Tensor StandardizedWeight() => WeightStandardization.Standardize(_weight, Variance, Eps);

    /// <summary>Convolves x [N, I, H, W] with Ŵ, giving [N, O, H′, W′]; gradients flow through the standardisation.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return PaddedConvolution.Conv2d(x, StandardizedWeight(), _bias, Stride, Padding).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"WeightStandardizedConv2d({InChannels}, {OutChannels}, kernel_size={KernelSize}, stride={Stride}, padding={Padding}, bias={_bias is not null}, variance={Variance})";
}

/// <summary>A linear layer whose weight rows are standardised at every forward (Qiao et al. 2019, applied to fully connected layers).</summary>
public sealed class WeightStandardizedLinear : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    /// <summary>A weight-standardised linear layer with weight [out, in] and bias in PyTorch's default U(−1/√in, 1/√in) init.</summary>
    /// <param name="inFeatures">Width of the input's last axis.</param>
    /// <param name="outFeatures">Width of the output's last axis.</param>
    /// <param name="bias">Add a bias [out] (not standardised).</param>
    /// <param name="variance">Variance flavour; the default is the authors' ImageNet layers.</param>
    /// <param name="eps">ε of the standardisation (1e-5).</param>
    /// <param name="device">Device of the parameters (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters (null: TorchSharp's default).</param>
    public WeightStandardizedLinear(long inFeatures, long outFeatures, bool bias = true,
        StandardizationVariance variance = StandardizationVariance.UnbiasedEpsInside, double eps = 1e-5, Device? device = null, ScalarType? dtype = null)
        : base(nameof(WeightStandardizedLinear))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        (InFeatures, OutFeatures, Variance, Eps) = (inFeatures, outFeatures, variance, eps);
        _weight = new Parameter(WeightStandardization.DefaultInit([outFeatures, inFeatures], inFeatures, device, dtype));
        if (bias)
            _bias = new Parameter(WeightStandardization.DefaultInit([outFeatures], inFeatures, device, dtype));
        RegisterComponents();
    }

    /// <summary>Width of the input's last axis (the fan-in each row is standardised over).</summary>
    public long InFeatures { get; }
    /// <summary>Width of the output's last axis (rows of W).</summary>
    public long OutFeatures { get; }
    /// <summary>Which variance Ŵ divides by, and where ε goes.</summary>
    public StandardizationVariance Variance { get; }
    /// <summary>ε of the standardisation, inside or outside the root as <see cref="Variance"/> says.</summary>
    public double Eps { get; }
    /// <summary>The raw W [out, in] (state key "weight"); the layer uses its standardised Ŵ.</summary>
    public Parameter Weight => _weight;
    /// <summary>The bias [out], in PyTorch's default init and not standardised; null without a bias.</summary>
    public Parameter? Bias => _bias;

    /// <summary>Ŵ [out, in], each row re-centred and re-scaled over its fan-in (Eq. 5), with gradient to W.</summary>
    public Tensor StandardizedWeight() => WeightStandardization.Standardize(_weight, Variance, Eps);

    /// <summary>x [..., in] → [..., out] through Ŵ; gradients flow through the standardisation.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(x, StandardizedWeight(), _bias).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"WeightStandardizedLinear({InFeatures}, {OutFeatures}, bias={_bias is not null}, variance={Variance})";
}
