// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Kernels;

public sealed class Int8KernelTests
{
    [Fact]
    public void RowQuantization_RoundTripsWithinHalfAStep()
    {
        using var scope = NewDisposeScope();
        var x = randn(13, 37, generator: new Generator(1)) * 3;
        x[4] = zeros(37);                                   // an all-zero row keeps scale 1 and zeros
        var (q, scale) = Int8Matmul.QuantizeRows(x);
        Assert.Equal(ScalarType.Int8, q.dtype);
        var restored = q.to(float32) * scale.unsqueeze(1);
        // Measured: the worst element lands at 0.9968 of the half step; the slack 1e-6 is for an element exactly on a half step, whose
        // float32 product q·scale may round past it.
        const double roundingSlack = 1e-6;
        var halfStep = scale.unsqueeze(1) / 2 * (1 + roundingSlack);
        Assert.True((restored - x).abs().le(halfStep).all().ToBoolean());
        Assert.Equal(127, q.abs().amax([1L])[0].ToInt32());  // each non-zero row uses the full range
        Assert.Equal(1f, scale[4].ToSingle());
    }

    [Theory]
    [InlineData(4, 4, 32)]
    [InlineData(7, 9, 45)]
    [InlineData(65, 70, 300)]
    public void Int32Product_IsExact(int m, int n, int k)
    {
        using var scope = NewDisposeScope();
        var a = randint(-127, 128, [m, k], dtype: ScalarType.Int8, generator: new Generator(2));
        var b = randint(-127, 128, [n, k], dtype: ScalarType.Int8, generator: new Generator(3));
        var expected = a.to(float64).matmul(b.to(float64).t());   // exact: |sums| < 2^53
        var product = Int8Matmul.Int32Product(a, b);
        Assert.Equal(ScalarType.Int32, product.dtype);
        Assert.True(product.to(float64).allclose(expected, rtol: 0, atol: 0));
    }

    [Fact]
    public void Decomposition_WithThresholdZero_IsTheFloatProduct()
    {
        using var scope = NewDisposeScope();
        var x = randn(6, 40, generator: new Generator(4));
        var w = randn(9, 40, generator: new Generator(5));
        var (product, outliers) = Int8Matmul.Decomposed(x, w, threshold: 0);
        Assert.Equal(40, outliers);
        Assert.True(product.allclose(x.matmul(w.t()), rtol: 0, atol: 0));   // every column is an outlier: Decomposed returns x·Wᵀ itself
    }

    [Fact]
    public void Decomposition_KeepsOutlierFeaturesExact_AndBeatsPlainInt8()
    {
        using var scope = NewDisposeScope();
        var x = randn(64, 128, generator: new Generator(6));
        x[.., 17] *= 40;                                    // an emergent-outlier feature, as in large Transformers
        var w = randn(32, 128, generator: new Generator(7)) * 0.1;
        var exact = x.to(float64).matmul(w.to(float64).t());
        var (decomposed, outliers) = Int8Matmul.Decomposed(x, w);
        Assert.Equal(1, outliers);
        var plainError = (Int8Matmul.Quantized(x, w).to(float64) - exact).abs().mean().ToDouble();
        var decomposedError = (decomposed.to(float64) - exact).abs().mean().ToDouble();
        Assert.True(decomposedError < plainError / 5, $"mean |error|: decomposed {decomposedError:E2}, plain int8 {plainError:E2}");
    }
}
