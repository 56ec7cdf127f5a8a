// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>
/// 2-D convolution that stays correct on libtorch 2.10's CPU path. Its oneDNN 3.7.1 AVX-512 kernels (<c>jit:avx512_core</c>) store
/// channels in blocks of 16 and get two cases wrong, measured on this project's AMD EPYC (Zen 4) in float32 against float64:
/// <list type="bullet">
/// <item>the <b>gradient with respect to the input</b> (<c>backward_data</c>) when the output channels are not a multiple of 16: it
/// reads the block's padding uninitialised, so ∂L/∂x is NaN or silently wrong (16 → 24 channels wrong in 60 of 60 seeds, 1 → 1 7×7
/// in 60 of 60 with 20 NaN, 8 → 8 in 89 of 100 with 81 NaN);</item>
/// <item>the <b>forward output</b> when there are more than 16 input channels and their count is not a multiple of 16, with a k × k
/// kernel, k &gt; 1 (17, 18, 20, 24, 30, 40 and 50 input channels wrong in every call, relative error 0.1–0.3; 1×1 kernels and
/// 2–16, 32 and 48 input channels exact).</item>
/// </list>
/// float64 does not go through oneDNN and is exact. Restricting oneDNN to AVX2 (<c>DNNL_MAX_CPU_ISA=AVX2</c>, blocks of 8) is no
/// fix (2 → 1 7×7 and 8 → 6 stay wrong in 40 of 40) and makes convolutional training steps 1.3–8× slower; without oneDNN they
/// are 2–6× slower. So both channel counts are padded here with zeros to the next multiple of 16 (zero filters after the last one;
/// zero input channels with zero weights), and the extra output channels are cut off again: the convolution is the same, every
/// value oneDNN reads is defined, and the cost is the extra channels' arithmetic (and a copy of the input when its channels are
/// padded), only for float32 on the CPU and only for the counts above.
/// </summary>
public static class PaddedConvolution
{
    /// <summary>The channel block of oneDNN's AVX-512 float32 kernels.</summary>
    public const int ChannelBlock = 16;

    /// <summary>conv2d(x, weight, bias) with a square stride and zero padding, as <c>torch.nn.functional.conv2d</c>, padding the
    /// output and input channels where the defects above apply (see <see cref="PadsOutputChannels"/> and <see cref="PadsInputChannels"/>).</summary>
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
        var (outputs, inputs) = (weight.shape[0], weight.shape[1]);
        var padOutputs = PadsOutputChannels(x, outputs);
        var padInputs = PadsInputChannels(x, inputs, weight.shape[2] * weight.shape[3]);
        if (!padOutputs && !padInputs)
            return nn.functional.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = NewDisposeScope();
        var extraOut = padOutputs ? ChannelBlock - outputs % ChannelBlock : 0;
        var extraIn = padInputs ? ChannelBlock - inputs % ChannelBlock : 0;
        var paddedWeight = nn.functional.pad(weight, [0, 0, 0, 0, 0, extraIn, 0, extraOut]);   // zero filters, zero input columns
        var paddedBias = bias is null || extraOut == 0 ? bias : nn.functional.pad(bias, [0, extraOut]);
        var input = extraIn == 0 ? x : nn.functional.pad(x, [0, 0, 0, 0, 0, extraIn]);           // zero input channels
        var y = nn.functional.conv2d(input, paddedWeight, paddedBias, strides: [stride, stride], padding: [padding, padding]);
        return (extraOut == 0 ? y : y.narrow(1, 0, outputs).contiguous()).MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Conv2d"/> pads the output channels: float32 input on the CPU with <paramref name="outputChannels"/>
    /// not a multiple of <see cref="ChannelBlock"/> (the input-gradient defect).</summary>
    public static bool PadsOutputChannels(Tensor x, long outputChannels)
    {
        ArgumentNullException.ThrowIfNull(x);
        return outputChannels % ChannelBlock != 0 && OnOneDnn(x);
    }

    /// <summary>Whether <see cref="Conv2d"/> pads the input channels: float32 input on the CPU with more than
    /// <see cref="ChannelBlock"/> input channels, not a multiple of it, and a kernel of more than one tap (the forward defect).</summary>
    public static bool PadsInputChannels(Tensor x, long inputChannels, long kernelTaps)
    {
        ArgumentNullException.ThrowIfNull(x);
        return inputChannels > ChannelBlock && inputChannels % ChannelBlock != 0 && kernelTaps > 1 && OnOneDnn(x);
    }

    // The only dtype and device measured to need it; float64 does not go through oneDNN.
    private static bool OnOneDnn(Tensor x) => x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;
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
