// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Scaled Weight Standardization (NF-ResNets): Ŵ = g·(W − μ_W)/√max(n·σ²_W, 1e-4), a learnable gain per output channel and always a bias.</summary>
/// <remarks>Brock, De &amp; Smith, "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
/// ICLR 2021, arXiv:2101.08692, Eq. (4) and the official nfnets/base.py WSConv2D: μ_W and the population variance σ²_W over
/// the fan-in n = I·k·k; the 1e-4 is a floor on n·σ², not an additive ε. g ↦ Gain (init 1). The activation that follows is
/// scaled by its γ (<see cref="ActivationGains"/>) so that Var(γ·f(z)) = 1 for z ~ N(0, 1). Used by the NF-ResNet notebook.</remarks>
public sealed class ScaledWSConv2d : nn.Module<Tensor, Tensor>
{
    private const double VarianceFloor = 1e-4;

    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "gain")] private Parameter _gain;
    [ComponentName(Name = "bias")] private Parameter _bias;

    /// <summary>A Scaled WS convolution with weights [O, I, k, k] ~ N(0, 1/fan_in) (the official VarianceScaling), g = 1 and bias 0.</summary>
    /// <param name="inChannels">I, channels of the input.</param>
    /// <param name="outChannels">O, channels of the output.</param>
    /// <param name="kernelSize">k of the square k × k kernel.</param>
    /// <param name="stride">Stride on both spatial axes.</param>
    /// <param name="padding">Zero padding on each side of both spatial axes.</param>
    /// <param name="device">Device of the parameters (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters (null: TorchSharp's default).</param>
    public ScaledWSConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, Device? device = null, ScalarType? dtype = null)
        : base(nameof(ScaledWSConv2d))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        (InChannels, OutChannels, KernelSize, Stride, Padding) = (inChannels, outChannels, kernelSize, stride, padding);
        FanIn = inChannels * kernelSize * kernelSize;
        // VarianceScaling(1.0, fan_in, normal) as in the official code; the standardisation makes the choice nearly irrelevant.
        _weight = new Parameter(randn([outChannels, inChannels, kernelSize, kernelSize], dtype: dtype, device: device) / Math.Sqrt(FanIn));
        _gain = new Parameter(ones([outChannels, 1, 1, 1], dtype: dtype, device: device));
        _bias = new Parameter(zeros(outChannels, dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>I, channels of the [N, I, H, W] input.</summary>
    public long InChannels { get; }
    /// <summary>O, output channels, each with its own gain and bias.</summary>
    public long OutChannels { get; }
    /// <summary>k of the square k × k kernel.</summary>
    public long KernelSize { get; }
    /// <summary>Stride on both spatial axes.</summary>
    public long Stride { get; }
    /// <summary>Zero padding added to each side of both spatial axes.</summary>
    public long Padding { get; }
    /// <summary>n = I·k·k, the fan-in that multiplies σ²_W under the root.</summary>
    public long FanIn { get; }
    /// <summary>The raw W [O, I, k, k] (state key "weight"); the convolution uses Ŵ.</summary>
    public Parameter Weight => _weight;
    /// <summary>g of Eq. (4), shape [O, 1, 1, 1], init 1 (state key "gain").</summary>
    public Parameter Gain => _gain;
    /// <summary>The bias [O], init 0 (state key "bias"; always present).</summary>
    public Parameter Bias => _bias;

    /// <summary>Ŵ = g·(W − μ_W)/√max(n·σ²_W, 1e-4), [O, I, k, k], with σ²_W the population variance over each filter's fan-in (Eq. 4).</summary>
    public Tensor StandardizedWeight()
    {
        using var scope = NewDisposeScope();
        var (variance, mean) = var_mean(_weight, [1L, 2L, 3L], unbiased: false, keepdim: true);
        var scale = rsqrt(clamp_min(variance * FanIn, VarianceFloor));
        return (_gain * (_weight - mean) * scale).MoveToOuterDisposeScope();   // Eq. (4)
    }

    /// <summary>Convolves x [N, I, H, W] with Ŵ plus bias, giving [N, O, H′, W′].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return PaddedConvolution.Conv2d(x, StandardizedWeight(), _bias, Stride, Padding).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"ScaledWSConv2d({InChannels}, {OutChannels}, kernel_size={KernelSize}, stride={Stride}, padding={Padding})";
}

/// <summary>The activation gains γ of the official NF-Nets code (nfnets/base.py): Var(γ·f(z)) = 1 for z ~ N(0, 1), estimated empirically there.</summary>
public static class ActivationGains
{
    /// <summary>γ for ReLU (the official empirical value; ≈ 1.7129 analytically).</summary>
    public const double Relu = 1.7139588594436646;
    /// <summary>γ for GELU.</summary>
    public const double Gelu = 1.7015043497085571;
    /// <summary>γ for SiLU (x·sigmoid(x)).</summary>
    public const double Silu = 1.7881293296813965;
    /// <summary>γ for tanh.</summary>
    public const double Tanh = 1.5939117670059204;
    /// <summary>γ for ELU (α = 1).</summary>
    public const double Elu = 1.2716004848480225;
    /// <summary>γ for SELU, ≈ 1 since SELU already preserves unit variance.</summary>
    public const double Selu = 1.0008515119552612;
}
