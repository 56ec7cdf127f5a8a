// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Kernels;

/// <summary>The fused C# norm kernels against float64 references computed with libtorch ops, on sizes with vector tails.</summary>
public sealed class NormKernelTests
{
    private static (Tensor X, Tensor Gamma, Tensor Beta, Tensor Upstream) Inputs(long rows, long n, long seed)
    {
        var g = new Generator((ulong)seed);
        return (randn([rows, n], generator: g) * 2 + 0.5, 1 + 0.3 * randn([n], generator: g), 0.3 * randn([n], generator: g), randn([rows, n], generator: g));
    }

    /// <summary>dγ and dβ sum over the rows products of x̂, which carries the forward's float32 error: Float32 plus a sum's rounding.</summary>
    private static double ParameterGradient(long rows) => Tolerances.Float32 + Tolerances.Float32Sum(rows);

    private static void Close(Tensor expected, Tensor actual, string what, double tolerance = Tolerances.Float32) =>
        Tolerances.AssertClose(expected.to(float64), actual.to(float64), tolerance, tolerance, what: what);

    [Theory]
    [InlineData(37, 1, true)]
    [InlineData(37, 7, true)]
    [InlineData(5, 13, true)]
    [InlineData(9, 129, true)]
    [InlineData(3, 1000, true)]
    [InlineData(9, 129, false)]
    [InlineData(3, 1000, false)]
    public void LayerNorm_ForwardAndBackward_MatchTheReference(long rows, long n, bool wide) => KernelWidths.At(wide, () =>
    {
        using var scope = NewDisposeScope();
        var (x, gamma, beta, upstream) = Inputs(rows, n, seed: n);
        // Reference in float64 through libtorch's autograd.
        var (x64, g64, b64) = (x.to(float64).requires_grad_(), gamma.to(float64).requires_grad_(), beta.to(float64).requires_grad_());
        var reference = nn.functional.layer_norm(x64, [n], g64, b64, 1e-5);
        reference.backward([upstream.to(float64)]);
        var (xf, gf, bf) = (x.clone().requires_grad_(), gamma.clone().requires_grad_(), beta.clone().requires_grad_());
        var fused = FusedNorms.LayerNorm(xf, gf, bf, 1e-5);
        fused.backward([upstream]);
        Close(reference, fused, "forward");
        Close(x64.grad!, xf.grad!, "dx");
        Close(g64.grad!, gf.grad!, "dγ", ParameterGradient(rows));
        Close(b64.grad!, bf.grad!, "dβ", ParameterGradient(rows));
    });

    [Theory]
    [InlineData(37, 7, true)]
    [InlineData(9, 129, true)]
    [InlineData(3, 1000, true)]
    [InlineData(37, 7, false)]
    [InlineData(3, 1000, false)]
    public void RmsNorm_ForwardAndBackward_MatchTheReference(long rows, long n, bool wide) => KernelWidths.At(wide, () =>
    {
        using var scope = NewDisposeScope();
        var (x, gamma, _, upstream) = Inputs(rows, n, seed: 100 + n);
        var (x64, g64) = (x.to(float64).requires_grad_(), gamma.to(float64).requires_grad_());
        var reference = x64 * rsqrt(x64.square().mean([-1L], keepdim: true) + 1e-6) * g64;
        reference.backward([upstream.to(float64)]);
        var (xf, gf) = (x.clone().requires_grad_(), gamma.clone().requires_grad_());
        var fused = FusedNorms.RmsNorm(xf, gf, 1e-6);
        fused.backward([upstream]);
        Close(reference, fused, "forward");
        Close(x64.grad!, xf.grad!, "dx");
        Close(g64.grad!, gf.grad!, "dγ", ParameterGradient(rows));
    });

    [Theory]
    [InlineData(1024, 4096)]      // 16 MiB: outputs stored non-temporally
    [InlineData(1023, 4100)]      // just as large, rows not a whole number of registers: normal stores
    public void LargeOutputs_StoredNonTemporally_MatchTheReference(long rows, long n)
    {
        using var scope = NewDisposeScope();
        var (x, gamma, beta, upstream) = Inputs(rows, n, seed: 21);
        var (x64, g64, b64) = (x.to(float64).requires_grad_(), gamma.to(float64).requires_grad_(), beta.to(float64).requires_grad_());
        var reference = nn.functional.layer_norm(x64, [n], g64, b64, 1e-5);
        reference.backward([upstream.to(float64)]);
        var (xf, gf, bf) = (x.clone().requires_grad_(), gamma.clone().requires_grad_(), beta.clone().requires_grad_());
        var fused = FusedNorms.LayerNorm(xf, gf, bf, 1e-5);
        fused.backward([upstream]);
        Close(reference, fused, "forward");
        Close(x64.grad!, xf.grad!, "dx");
        Close(g64.grad!, gf.grad!, "dγ", ParameterGradient(rows));
        var rms64 = x.to(float64) * rsqrt(x.to(float64).square().mean([-1L], keepdim: true) + 1e-6) * gamma.to(float64);
        Close(rms64, FusedNorms.RmsNorm(x, gamma, 1e-6), "RMSNorm forward");
        // An output that starts off the 64-byte grid cannot take aligned non-temporal stores: the kernel must notice and store normally.
        var unaligned = empty(rows * n + 1)[1..].view(rows, n);
        using (no_grad())
            FusedNorms.LayerNorm(x, gamma, beta, 1e-5, unaligned);
        Close(reference, unaligned, "forward into an unaligned output");
    }

    [Fact]
    public void WithoutGains_AndWithoutGradients_TheKernelsStillMatch()
    {
        using var scope = NewDisposeScope();
        var (x, _, _, upstream) = Inputs(11, 33, seed: 3);
        Close(nn.functional.layer_norm(x.to(float64), [33], eps: 1e-5), FusedNorms.LayerNorm(x, null, null, 1e-5), "LayerNorm, no affine, no grad");
        var xf = x.clone().requires_grad_();
        FusedNorms.RmsNorm(xf, null, 1e-6).backward([upstream]);
        var x64 = x.to(float64).requires_grad_();
        (x64 * rsqrt(x64.square().mean([-1L], keepdim: true) + 1e-6)).backward([upstream.to(float64)]);
        Close(x64.grad!, xf.grad!, "RMSNorm dx without gain");
    }

    [Fact]
    public void NonContiguousOrFloat64Inputs_AreRejectedByTheKernel_AndTheModulesFallBack()
    {
        using var scope = NewDisposeScope();
        var x = randn(16, 24).t();   // [24, 16], not contiguous
        Assert.False(FusedNorms.Applies(x));
        Assert.Contains("contiguous float32 CPU", Assert.Throws<ArgumentException>(() => FusedNorms.LayerNorm(x, null, null, 1e-5)).Message);
        var module = new LayerNorm(16);
        Close(nn.functional.layer_norm(x.contiguous().to(float64), [16], eps: 1e-5), module.forward(x), "module on a transposed input");
        Assert.False(FusedNorms.Applies(randn(4, 4, dtype: float64)));
        Assert.Contains("shape [8]", Assert.Throws<ArgumentException>(() => FusedNorms.RmsNorm(randn(3, 8), ones(7), 1e-6)).Message);
    }

    [Fact]
    public void ContiguousViewsWithAStorageOffset_AreReadAndWrittenAtTheirOwnElements()
    {
        using var scope = NewDisposeScope();
        var (whole, gamma, beta, _) = Inputs(9, 33, seed: 5);
        var rows = whole[3..7];                          // contiguous, storage offset 3·33
        Assert.True(rows.is_contiguous() && rows.storage_offset() == 99);
        var output = full(9, 33, float.NaN);
        var outputRows = output[3..7];
        using (no_grad())
            FusedNorms.LayerNorm(rows, gamma, beta, 1e-5, outputRows);
        Close(nn.functional.layer_norm(rows.to(float64), [33], gamma.to(float64), beta.to(float64), 1e-5), outputRows, "LayerNorm of rows 3–6 into rows 3–6");
        Assert.True(output[..3].isnan().all().item<bool>() && output[7..].isnan().all().item<bool>(), "rows outside the view were written");
        var a = randint(-127, 128, [10, 24], dtype: ScalarType.Int8, generator: new Generator(2));
        var b = randint(-127, 128, [7, 24], dtype: ScalarType.Int8, generator: new Generator(3));
        var product = Int8Matmul.Int32Product(a[4..], b[2..]);          // int8 in, int32 out, both read from offset views
        Assert.True(product.to(float64).allclose(a[4..].to(float64).matmul(b[2..].to(float64).t()), rtol: 0, atol: 0), "int8 product of offset views");
    }

    [Fact]
    public void ThreadCount_ChangesNothingButTheOrderOfTheParameterGradientSums()
    {
        using var scope = NewDisposeScope();
        var (x, gamma, beta, upstream) = Inputs(300, 384, seed: 9);   // 115,200 floats: 4 workers at ≥ 16,384 floats each
        (Tensor Y, Tensor Dx, Tensor Dgamma, Tensor Dbeta) Run(int threads)
        {
            NormKernels.Threads = threads;
            var (xf, gf, bf) = (x.clone().requires_grad_(), gamma.clone().requires_grad_(), beta.clone().requires_grad_());
            var y = FusedNorms.LayerNorm(xf, gf, bf, 1e-5);
            y.backward([upstream]);
            return (y, xf.grad!, gf.grad!, bf.grad!);
        }
        var before = NormKernels.Threads;
        try
        {
            var one = Run(1);
            var four = Run(4);
            Assert.True(one.Y.eq(four.Y).all().item<bool>(), "forward depends on the thread count");
            Assert.True(one.Dx.eq(four.Dx).all().item<bool>(), "dx depends on the thread count");
            Close(one.Dgamma, four.Dgamma, "dγ summed by 1 and by 4 workers", ParameterGradient(300));
            Close(one.Dbeta, four.Dbeta, "dβ summed by 1 and by 4 workers", ParameterGradient(300));
            Assert.False(one.Dgamma.eq(zeros_like(one.Dgamma)).all().item<bool>());
        }
        finally
        {
            NormKernels.Threads = before;
        }
    }

    [Fact]
    public void Modules_GiveTheSameResultsFusedAndTorch()
    {
        using var scope = NewDisposeScope();
        var (x, _, _, upstream) = Inputs(20, 48, seed: 12);
        foreach (var name in new[] { "layernorm", "rmsnorm", "rmsnorm-affine" })
        {
            manual_seed(1);
            var fusedModule = NormFactory.Create(name, 48, new NormOptions { Implementation = NormImplementation.Fused });
            manual_seed(1);
            var torchModule = NormFactory.Create(name, 48, new NormOptions { Implementation = NormImplementation.Torch });
            var xf = x.clone().requires_grad_();
            var fused = fusedModule.forward(xf);
            fused.backward([upstream]);
            var xt = x.clone().requires_grad_();
            var viaTorch = torchModule.forward(xt);
            viaTorch.backward([upstream]);
            Close(viaTorch, fused, name + " forward");
            Close(xt.grad!, xf.grad!, name + " dx");
            Close(torchModule.parameters().First().grad!, fusedModule.parameters().First().grad!, name + " dγ", ParameterGradient(20));
        }
    }

    [Fact]
    public void Implementation_ComesFromTheArgumentThenTheEnvironmentThenTheFastest()
    {
        // The environment is read through a parameter: tests run in parallel and must not change the process's variables.
        const NormImplementation fastest = NormImplementation.Torch;
        Assert.Equal(NormImplementation.Torch, NormImplementations.Resolve(null, fastest, environment: null));
        Assert.Equal(NormImplementation.Torch, NormImplementations.Resolve(null, fastest, environment: ""));
        Assert.Equal(NormImplementation.Fused, NormImplementations.Resolve(null, fastest, environment: "1"));
        Assert.Equal(NormImplementation.Torch, NormImplementations.Resolve(null, NormImplementation.Fused, environment: "0"));
        Assert.Equal(NormImplementation.Fused, NormImplementations.Resolve(NormImplementation.Fused, fastest, environment: "0"));
        Assert.Contains("NORMNB_FUSED='yes'", Assert.Throws<ArgumentException>(() => NormImplementations.Resolve(null, fastest, environment: "yes")).Message);
        Assert.Equal(NormImplementation.Fused, new LayerNorm(8, implementation: NormImplementation.Fused).Implementation);
        Assert.Equal(NormImplementation.Torch, new RmsNorm(8, implementation: NormImplementation.Torch).Implementation);
    }

    [Fact]
    public void LayerNormFunction_LeavesNoTensorsNodesOrHeapBehind()
    {
        var (gamma, beta) = (ones(511).requires_grad_(), zeros(511).requires_grad_());
        LeakCheck.AssertNoLeaks("LayerNormFunction", () => FusedNorms.LayerNorm(randn(256, 511).requires_grad_(), gamma, beta, 1e-5));
    }

    [Fact]
    public void RmsNormFunction_LeavesNoTensorsNodesOrHeapBehind()
    {
        var gamma = ones(511).requires_grad_();
        LeakCheck.AssertNoLeaks("RmsNormFunction", () => FusedNorms.RmsNorm(randn(256, 511).requires_grad_(), gamma, 1e-6));
    }
}
