// SPDX-License-Identifier: MIT
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using NormNotebooks.Kernels;
using NormNotebooks.Norms;
using static TorchSharp.torch;

namespace NormNotebooks.Benchmarks;

public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}

/// <summary>Norm forward on [N, N] float32: libtorch's layer_norm is the baseline.</summary>
[MemoryDiagnoser]
public class NormForward : IDisposable
{
    private Tensor _x = null!;
    private LayerNorm _layerNorm = null!;
    private RmsNorm _rmsNorm = null!;

    [Params(1024, 4096)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = randn(N, N);
        _layerNorm = new LayerNorm(N);
        _rmsNorm = new RmsNorm(N, 1e-6);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _x?.Dispose();
        _layerNorm?.Dispose();
        _rmsNorm?.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true)]
    public void LibtorchLayerNorm()
    {
        using var scope = NewDisposeScope();
        nn.functional.layer_norm(_x, [N]);
    }

    [Benchmark]
    public void FusedLayerNorm()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _layerNorm.forward(_x);
    }

    [Benchmark]
    public void FusedRmsNorm()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        _rmsNorm.forward(_x);
    }
}

/// <summary>Softmax on rows far larger than the caches: torch.softmax is the baseline.</summary>
[MemoryDiagnoser]
public class SoftmaxOutOfCache
{
    private Tensor _x = null!;
    private Tensor _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = randn(4, 1 << 23);
        _y = empty(4, 1 << 23);
    }

    [Benchmark(Baseline = true)]
    public void TorchSoftmax()
    {
        using var scope = NewDisposeScope();
        _x.softmax(-1);
    }

    [Benchmark] public void ThreePassRecompute() => FusedSoftmax.Softmax(_x, SoftmaxAlgorithm.ThreePassRecompute, _y);
    [Benchmark] public void ThreePassReload() => FusedSoftmax.Softmax(_x, SoftmaxAlgorithm.ThreePassReload, _y);
    [Benchmark] public void TwoPass() => FusedSoftmax.Softmax(_x, SoftmaxAlgorithm.TwoPass, _y);
}

/// <summary>LLM.int8 products against float32 torch.matmul.</summary>
[MemoryDiagnoser]
public class Int8Product
{
    private Tensor _x = null!;
    private Tensor _w = null!;

    [Params(1024, 4096)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = randn(N, N);
        _w = randn(N, N) * 0.05;
    }

    [Benchmark(Baseline = true)]
    public void Float32Matmul()
    {
        using var scope = NewDisposeScope();
        _x.matmul(_w.t());
    }

    [Benchmark]
    public void Int8Decomposed()
    {
        using var scope = NewDisposeScope();
        Int8Matmul.Decomposed(_x, _w);
    }
}
