// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Kernels;

[Collection("Sequential")]
public sealed class ConvolutionTests
{
    [Theory]
    [InlineData(1L, 1L)]
    [InlineData(2L, 1L)]
    [InlineData(1L, 0L)]
    public void Conv2d_EqualsLibtorchsConvolution_ValuesAndGradients_InFloat64(long stride, long padding)
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([3, 5, 9, 9], ScalarType.Float64, seed: 3).requires_grad_();
        var w = Inputs.Random([4, 5, 3, 3], ScalarType.Float64, seed: 4, mean: 0, scale: 0.3).requires_grad_();
        var b = Inputs.Random([4], ScalarType.Float64, seed: 5).requires_grad_();
        var upstream = Inputs.Random([3, 4, (9 + 2 * padding - 3) / stride + 1, (9 + 2 * padding - 3) / stride + 1], ScalarType.Float64, seed: 6);
        var ours = Convolution.Conv2d(x, w, b, stride, padding);
        ours.backward([upstream]);
        var (dx, dw, db) = (x.grad!.clone(), w.grad!.clone(), b.grad!.clone());
        x.grad!.zero_(); w.grad!.zero_(); b.grad!.zero_();
        var reference = nn.functional.conv2d(x, w, b, strides: [stride, stride], padding: [padding, padding]);
        reference.backward([upstream]);
        Tolerances.AssertClose(reference, ours, Tolerances.Float64, what: "forward");
        Assert.True(ours.is_contiguous(), "the output comes back in contiguous NCHW memory");
        Tolerances.AssertClose(x.grad!, dx, Tolerances.Float64, what: "∂x");
        Tolerances.AssertClose(w.grad!, dw, Tolerances.Float64, what: "∂w");
        Tolerances.AssertClose(b.grad!, db, Tolerances.Float64, what: "∂b");
    }

    [Fact]
    public void Conv2d_InputGradient_IsFinite_WithTwoThreads_WhereLibtorchsNchwKernelGaveNaN()
    {
        using var scope = NewDisposeScope();
        var threads = get_num_threads();
        set_num_threads(2);
        try
        {
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var x = Inputs.Random([32, 8, 28, 28], seed: 10 + attempt).requires_grad_();
                var w = Inputs.Random([8, 8, 3, 3], seed: 20 + attempt, mean: 0, scale: 0.2);
                var y = Convolution.Conv2d(x, w, null, 1, 1);
                y.backward([Inputs.Random([32, 8, 28, 28], seed: 30 + attempt)]);
                Assert.True(x.grad!.isfinite().all().item<bool>(), $"attempt {attempt}: ∂x has non-finite values");
            }
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    [Fact]
    public void Conv2dLayer_HasPyTorchsInitAndStateKeys()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var layer = new Conv2dLayer(3, 6, 3, padding: 1);
        manual_seed(7);
        var reference = nn.Conv2d(3, 6, 3, padding: 1);
        Assert.Equal(["weight", "bias"], layer.state_dict().Keys);
        Tolerances.AssertClose(reference.weight!, layer.Weight, 0, what: "weight init");
        Tolerances.AssertClose(reference.bias!, layer.Bias!, 0, what: "bias init");
        var x = Inputs.Random([2, 3, 7, 7], seed: 8);
        Tolerances.AssertClose(reference.forward(x), layer.forward(x), Tolerances.Float32, what: "forward");
        Assert.Null(new Conv2dLayer(3, 6, 3, bias: false).Bias);
    }
}
