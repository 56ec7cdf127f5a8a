// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>
/// 2-D convolution that stays correct on libtorch 2.10's CPU path. Its oneDNN 3.7.1 AVX-512 kernel (<c>jit:avx512_core</c>) stores
/// channels in blocks of 16; when the output channels are not a multiple of 16, the gradient with respect to the input
/// (<c>backward_data</c>) reads the block's padding uninitialised, so ∂L/∂x is NaN or silently wrong. Measured on this project's
/// AMD EPYC (Zen 4), float32, against a float64 reference over 60 seeds each: 16 → 24 channels wrong in 60 of 60, 1 → 1 (7×7) in
/// 60 of 60 (20 NaN), 8 → 8 in 89 of 100 (81 NaN); 16, 32, 48 and 64 output channels and every float64 case exact. Restricting
/// oneDNN to AVX2 (<c>DNNL_MAX_CPU_ISA=AVX2</c>, blocks of 8) is no fix: 2 → 1 (7×7) and 8 → 6 stay wrong in 40 of 40, and
/// convolutional training steps get 1.3–8× slower; without oneDNN they are 2–6× slower.
/// So the output channels are padded here with zero filters to the next multiple of 16 and the extra channels cut off again: the
/// gradient that reaches oneDNN is then defined everywhere (zeros in the extra channels), the result is the same convolution, and
/// the cost is the extra filters' arithmetic, only for float32 on the CPU and only when the count is not a multiple of 16.
/// </summary>
public static class PaddedConvolution
{
    /// <summary>The channel block of oneDNN's AVX-512 float32 kernels.</summary>
    public const int ChannelBlock = 16;

    /// <summary>conv2d(x, weight, bias) with a square stride and zero padding, as <c>torch.nn.functional.conv2d</c>, padding the
    /// output channels when the defect above applies (see <see cref="PadsOutputChannels"/>).</summary>
    /// <param name="x">Input [N, I, H, W].</param>
    /// <param name="weight">Filters [O, I, k, k].</param>
    /// <param name="bias">Bias [O], or null.</param>
    /// <param name="stride">Stride on both spatial axes.</param>
    /// <param name="padding">Zero padding on each side of both spatial axes.</param>
    /// <returns>[N, O, H′, W′], contiguous.</returns>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, long stride = 1, long padding = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        var outputs = weight.shape[0];
        if (!PadsOutputChannels(x, outputs))
            return nn.functional.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = NewDisposeScope();
        var extra = ChannelBlock - outputs % ChannelBlock;
        var paddedWeight = nn.functional.pad(weight, [0, 0, 0, 0, 0, 0, 0, extra]);   // zero filters after the last one
        var paddedBias = bias is null ? null : nn.functional.pad(bias, [0, extra]);
        var y = nn.functional.conv2d(x, paddedWeight, paddedBias, strides: [stride, stride], padding: [padding, padding]);
        return y.narrow(1, 0, outputs).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Conv2d"/> pads: float32 input on the CPU with <paramref name="outputChannels"/> not a multiple of
    /// <see cref="ChannelBlock"/> (the only dtype and device measured to need it; float64 does not go through oneDNN).</summary>
    public static bool PadsOutputChannels(Tensor x, long outputChannels)
    {
        ArgumentNullException.ThrowIfNull(x);
        return outputChannels % ChannelBlock != 0 && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;
    }
}

/// <summary>
/// A 2-D convolution layer like <c>torch.nn.Conv2d</c> (square kernel, stride and padding; state keys "weight" and "bias"; PyTorch's
/// default initialisation) that runs through <see cref="PaddedConvolution.Conv2d"/>, so its input gradient is right for any number of
/// output channels. The library's models and norms use it instead of <c>nn.Conv2d</c>.
/// </summary>
public sealed class PaddedConv2d : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    /// <summary>A convolution with weights [O, I, k, k] and bias [O] ~ U(−1/√fan_in, 1/√fan_in), fan_in = I·k·k (PyTorch's default).</summary>
    /// <param name="inChannels">I, channels of the input.</param>
    /// <param name="outChannels">O, channels of the output.</param>
    /// <param name="kernelSize">k of the square k × k kernel.</param>
    /// <param name="stride">Stride on both spatial axes.</param>
    /// <param name="padding">Zero padding on each side of both spatial axes.</param>
    /// <param name="bias">Whether to learn a bias.</param>
    /// <param name="device">Device of the parameters (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters (null: TorchSharp's default).</param>
    public PaddedConv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true,
        Device? device = null, ScalarType? dtype = null) : base(nameof(PaddedConv2d))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stride);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        (InChannels, OutChannels, KernelSize, Stride, Padding) = (inChannels, outChannels, kernelSize, stride, padding);
        var bound = 1 / Math.Sqrt(inChannels * kernelSize * kernelSize);
        using (no_grad())
        {
            _weight = new Parameter(empty([outChannels, inChannels, kernelSize, kernelSize], dtype: dtype, device: device).uniform_(-bound, bound));
            _bias = bias ? new Parameter(empty([outChannels], dtype: dtype, device: device).uniform_(-bound, bound)) : null;
        }
        RegisterComponents();
    }

    /// <summary>I, channels of the [N, I, H, W] input.</summary>
    public long InChannels { get; }
    /// <summary>O, channels of the output.</summary>
    public long OutChannels { get; }
    /// <summary>k of the square k × k kernel.</summary>
    public long KernelSize { get; }
    /// <summary>Stride on both spatial axes.</summary>
    public long Stride { get; }
    /// <summary>Zero padding added to each side of both spatial axes.</summary>
    public long Padding { get; }
    /// <summary>The filters [O, I, k, k] (state key "weight").</summary>
    public Parameter Weight => _weight;
    /// <summary>The bias [O] (state key "bias"), or null.</summary>
    public Parameter? Bias => _bias;

    /// <summary>x [N, I, H, W] → [N, O, H′, W′].</summary>
    public override Tensor forward(Tensor x) => PaddedConvolution.Conv2d(x, _weight, _bias, Stride, Padding);

    /// <inheritdoc/>
    public override string ToString() => $"PaddedConv2d({InChannels}, {OutChannels}, kernel_size={KernelSize}, stride={Stride}, padding={Padding}, bias={_bias is not null})";
}
