// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>2-D convolution that avoids a libtorch CPU defect: every convolution of the library goes through <see cref="Conv2d"/>.</summary>
/// <remarks>libtorch 2.10 (TorchSharp-cpu 0.107) returns NaN in ∂L/∂x of a float32 NCHW convolution on the CPU with two or more
/// threads for some small-channel shapes: [32, 8, 28, 28] with a 3×3 kernel and padding 1 gave NaN in 5 tries of 5 on this
/// project's machine (float64, one thread, or the same tensor in channels-last memory: none). NF-ResNet training diverged at its
/// first step from it. The input is therefore handed to libtorch in channels-last memory (same values, NHWC strides), which selects
/// the channels-last kernel, and the output is made contiguous again. Costs one copy of the input and one of the output.</remarks>
public static class Convolution
{
    /// <summary>conv2d(x, weight, bias) with square stride and padding, through the channels-last kernel on the CPU.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride = 1, long padding = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        if (x.device_type != DeviceType.CPU || x.dim() != 4)
            return nn.functional.conv2d(x, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        using var scope = NewDisposeScope();
        var channelsLast = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);   // NCHW view of NHWC memory
        var y = nn.functional.conv2d(channelsLast, weight, bias, strides: [stride, stride], padding: [padding, padding]);
        return y.contiguous().MoveToOuterDisposeScope();
    }
}

/// <summary>A plain 2-D convolution layer (PyTorch's Conv2d: same init, same state keys) that runs through <see cref="Convolution.Conv2d"/>.</summary>
public sealed class Conv2dLayer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    public Conv2dLayer(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true,
        Device? device = null, ScalarType? dtype = null) : base(nameof(Conv2dLayer))
    {
        // Built by libtorch's own Conv2d, so the initialisation (and the random numbers it draws) is PyTorch's.
        using var reference = nn.Conv2d(inChannels, outChannels, kernelSize, stride: stride, padding: padding, bias: bias, device: device, dtype: dtype);
        _weight = new Parameter(reference.weight!.detach().clone());
        _bias = bias ? new Parameter(reference.bias!.detach().clone()) : null;
        (InChannels, OutChannels, KernelSize, Stride, Padding) = (inChannels, outChannels, kernelSize, stride, padding);
        RegisterComponents();
    }

    public long InChannels { get; }
    public long OutChannels { get; }
    public long KernelSize { get; }
    public long Stride { get; }
    public long Padding { get; }
    public Parameter Weight => _weight;
    public Parameter? Bias => _bias;

    public override Tensor forward(Tensor x) => Convolution.Conv2d(x, _weight, _bias, Stride, Padding);

    public override string ToString() => $"Conv2d({InChannels}, {OutChannels}, kernel_size={KernelSize}, stride={Stride}, padding={Padding}, bias={_bias is not null})";
}
