// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using NormNotebooks.Kernels;
using NormNotebooks.Norms;
using NormNotebooks.Runtime;
using static TorchSharp.torch;

namespace NormNotebooks.Bench;

/// <summary>One timed case with its work and its ratio to the suite's baseline measured in the same run.</summary>
/// <param name="Suite">norms, softmax or int8.</param>
/// <param name="Name">What ran.</param>
/// <param name="Shape">The input's shape.</param>
/// <param name="Timing">Median and quartiles.</param>
/// <param name="Bytes">Bytes an ideal implementation moves (each input read once, each output written once), or 0.</param>
/// <param name="Flops">Arithmetic operations counted by the usual convention (2 per multiply-add), or 0.</param>
/// <param name="Baseline">The case this one is compared with.</param>
/// <param name="Speedup">Baseline median / this median (&gt; 1: faster).</param>
/// <param name="CopyBandwidthGBps">This machine's copy bandwidth measured in the same run, for <see cref="BandwidthFraction"/>.</param>
public sealed record BenchCase(string Suite, string Name, string Shape, Timing Timing, double Bytes, double Flops, string Baseline, double Speedup, double CopyBandwidthGBps)
{
    /// <summary>Bytes moved per second, in GB/s.</summary>
    public double GBps => Bytes / (Timing.MedianMs * 1e-3) / 1e9;

    /// <summary>GFLOP/s.</summary>
    public double GFlops => Flops / (Timing.MedianMs * 1e-3) / 1e9;

    /// <summary>Share of the measured copy bandwidth this case reaches.</summary>
    public double BandwidthFraction => CopyBandwidthGBps > 0 ? GBps / CopyBandwidthGBps : 0;
}

/// <summary>Where a benchmark ran.</summary>
public sealed record BenchEnvironment(string Cpu, string KernelIsa, int Threads, string DotNet, string TorchSharp, string LibTorch, string Os, string? PyTorch);

/// <summary>A benchmark run: environment, the copy-bandwidth baseline, and the cases.</summary>
public sealed record BenchReport(BenchEnvironment Environment, double CopyBandwidthGBps, IReadOnlyList<BenchCase> Cases)
{
    /// <summary>The report as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A case by suite and name.</summary>
    public BenchCase Case(string suite, string name) => Cases.FirstOrDefault(c => c.Suite == suite && c.Name == name)
        ?? throw new KeyNotFoundException($"No case '{name}' in suite '{suite}'.");
}

/// <summary>
/// The benchmark suites of <c>normnb bench</c>: each times our C# kernels next to libtorch through TorchSharp (the CLI adds PyTorch from
/// Debian's python3-torch when installed), interleaved so that drift hits all alike, and reports medians, quartiles, GB/s or GFLOP/s,
/// the fraction of this machine's copy bandwidth (a copy into a preallocated tensor, measured in the same run) and the ratio to the
/// suite's baseline. No timing is asserted anywhere: the targets are read off these tables.
/// </summary>
public static class Benchmarks
{
    /// <summary>The suites.</summary>
    public static IReadOnlyList<string> Suites { get; } = ["norms", "softmax", "int8"];

    /// <summary>Runs <paramref name="suites"/> and returns the report.</summary>
    public static BenchReport Run(IEnumerable<string> suites, BenchSizes sizes, TimeSpan budget, Action<string>? progress = null)
    {
        TorchRuntime.EnsureLoaded();
        var chosen = suites.ToList();
        var cases = new List<BenchCase>();
        progress?.Invoke("copy bandwidth");
        var copy = CopyBandwidth(sizes.NormRows * sizes.NormFeatures, budget);
        foreach (var suite in chosen)
        {
            progress?.Invoke(suite);
            cases.AddRange(suite switch
            {
                "norms" => Norms(sizes.NormRows, sizes.NormFeatures, budget, copy),
                "softmax" => Softmax(sizes.SoftmaxRows, sizes.SoftmaxColumns, budget, copy),
                "int8" => Int8(sizes.MatrixSize, budget, copy),
                _ => throw new ArgumentException($"Unknown suite '{suite}'; available: {string.Join(", ", Suites)}, all.", nameof(suites)),
            });
        }
        return new BenchReport(Environment(), copy, cases);
    }

    /// <summary>GB/s of copying <paramref name="floats"/> float32 values into a preallocated tensor (bytes read + written).</summary>
    public static double CopyBandwidth(long floats, TimeSpan budget)
    {
        TorchRuntime.EnsureLoaded();
        using var source = randn(floats);
        using var target = empty(floats);
        var t = Measure.Run("copy", () => target.copy_(source), budget);
        return 8.0 * floats / (t.MedianMs * 1e-3) / 1e9;
    }

    /// <summary>Fused LayerNorm/RMSNorm against libtorch's layer_norm (forward) and autograd through torch ops (forward+backward).</summary>
    public static IReadOnlyList<BenchCase> Norms(long rows, long n, TimeSpan budget, double copy)
    {
        using var scope = NewDisposeScope();
        var shape = $"[{rows}, {n}] float32";
        var x = randn(rows, n);
        var upstream = randn(rows, n);
        var (torchLayerNorm, fusedLayerNorm) = (new LayerNorm(n, implementation: NormImplementation.Torch), new LayerNorm(n, implementation: NormImplementation.Fused));
        var (torchRmsNorm, fusedRmsNorm) = (new RmsNorm(n, 1e-6, implementation: NormImplementation.Torch), new RmsNorm(n, 1e-6, implementation: NormImplementation.Fused));
        var elements = (double)rows * n;
        var reusable = empty(rows, n);
        Action Forward(Func<Tensor, Tensor> f) => () => { using var s = NewDisposeScope(); using var _ = no_grad(); f(x); };
        Action Both(Func<Tensor, Tensor> f) => () =>
        {
            using var s = NewDisposeScope();
            var xg = x.detach().requires_grad_();
            f(xg).backward([upstream]);
        };
        var forward = Measure.Interleaved(
        [
            ("libtorch layer_norm forward", Forward(torchLayerNorm.forward)),
            ("RMSNorm from torch ops, forward", Forward(torchRmsNorm.forward)),
            ("fused LayerNorm forward", Forward(fusedLayerNorm.forward)),
            ("fused RMSNorm forward", Forward(fusedRmsNorm.forward)),
            ("fused LayerNorm forward into a reusable output", () => { using var _ = no_grad(); FusedNorms.LayerNorm(x, fusedLayerNorm.Weight, fusedLayerNorm.Bias, 1e-5, reusable); }),
            ("fused RMSNorm forward into a reusable output", () => { using var _ = no_grad(); FusedNorms.RmsNorm(x, fusedRmsNorm.Weight, 1e-6, reusable); }),
        ], budget * 6);
        var backward = Measure.Interleaved(
        [
            ("LayerNorm autograd through torch ops, forward+backward", Both(t => ComposedLayerNorm(t, fusedLayerNorm.Weight!, fusedLayerNorm.Bias!))),
            ("RMSNorm autograd through torch ops, forward+backward", Both(torchRmsNorm.forward)),
            ("libtorch layer_norm forward+backward", Both(torchLayerNorm.forward)),
            ("fused LayerNorm forward+backward", Both(fusedLayerNorm.forward)),
            ("fused RMSNorm forward+backward", Both(fusedRmsNorm.forward)),
        ], budget * 5);
        return Cases("norms", shape, forward, 8 * elements, 0, copy)
            .Concat(Cases("norms", shape, backward, 20 * elements, 0, copy)).ToList();
    }

    // Eq. (4) of Ba et al. from torch ops, so autograd saves every intermediate: the cost a norm without a fused kernel pays.
    private static Tensor ComposedLayerNorm(Tensor x, Tensor gamma, Tensor beta)
    {
        var centred = x - x.mean([-1L], keepdim: true);
        return centred * rsqrt(centred.square().mean([-1L], keepdim: true) + 1e-5) * gamma + beta;
    }

    /// <summary>The three softmax algorithms against torch.softmax, on the given shape and on rows far larger than the caches.</summary>
    public static IReadOnlyList<BenchCase> Softmax(long rows, long n, TimeSpan budget, double copy)
    {
        var results = new List<BenchCase>();
        // The second shape: 4 rows of up to 2^23 floats (32 MB each, beyond L2 and, together, L3), scaled down with small sizes.
        foreach (var (r, c) in new[] { (rows, n), (4L, Math.Clamp(rows * n * 2, 4096L, 1L << 23)) })
        {
            using var scope = NewDisposeScope();
            var x = randn(r, c) * 3;
            var y = empty(r, c);
            var cases = Measure.Interleaved(
            [
                ("torch.softmax", () => { using var s = NewDisposeScope(); x.softmax(-1); }),
                ("three-pass recompute", () => FusedSoftmax.Softmax(x, SoftmaxAlgorithm.ThreePassRecompute, y)),
                ("three-pass reload", () => FusedSoftmax.Softmax(x, SoftmaxAlgorithm.ThreePassReload, y)),
                ("two-pass", () => FusedSoftmax.Softmax(x, SoftmaxAlgorithm.TwoPass, y)),
            ], budget * 4);
            var where = c * 4 > 4L << 20 ? "rows out of cache" : "rows in cache";
            results.AddRange(Cases("softmax", $"[{r}, {c}] float32 ({where})", cases, 8.0 * r * c, 0, copy));
        }
        return results;
    }

    /// <summary>LLM.int8 products of [size, size] matrices against float32 torch.matmul.</summary>
    public static IReadOnlyList<BenchCase> Int8(long size, TimeSpan budget, double copy)
    {
        using var scope = NewDisposeScope();
        var x = randn(size, size);
        x[.., 7] *= 20;                                   // one outlier feature, as LLM.int8 expects in large models
        var w = randn(size, size) * 0.05;
        var (qx, _) = Int8Matmul.QuantizeRows(x);
        var (qw, _) = Int8Matmul.QuantizeRows(w);
        var prepared = Int8Matmul.PrepareWeight(w);   // weights are quantized once per layer in LLM.int8 inference
        var flops = 2.0 * size * size * size;
        var cases = Measure.Interleaved(
        [
            ("float32 torch.matmul", () => { using var s = NewDisposeScope(); x.matmul(w.t()); }),
            ("int8 × int8 → int32 product", () => { using var s = NewDisposeScope(); Int8Matmul.Int32Product(qx, qw); }),
            ("int8 with quantization and dequantization", () => { using var s = NewDisposeScope(); Int8Matmul.Quantized(x, w); }),
            ("LLM.int8 with outlier decomposition (threshold 6), weight prepared", () => { using var s = NewDisposeScope(); Int8Matmul.Decomposed(x, prepared); }),
        ], budget * 4, warmup: 1, minRounds: 3);
        return Cases("int8", $"[{size}, {size}] · [{size}, {size}]ᵀ", cases, 0, flops, copy).ToList();
    }

    /// <summary>Where this runs: CPU, the ISA our kernels use, threads and versions (<c>normnb bench</c> adds PyTorch's when it times it).</summary>
    public static BenchEnvironment Environment()
    {
        var info = Compute.Describe();
        var isa = Vector512.IsHardwareAccelerated ? "AVX-512 (norms and softmax in Vector256; int8 " + Int8Kernels.Isa + ")"
            : Avx2.IsSupported ? "AVX2 (" + Int8Kernels.Isa + ")" : "scalar";
        return new BenchEnvironment(info.Cpu, isa, NormKernels.Threads, info.DotNet, info.TorchSharp, info.LibTorch, RuntimeInformation.OSDescription, PyTorch: null);
    }

    private static IEnumerable<BenchCase> Cases(string suite, string shape, IReadOnlyList<Timing> timings, double bytes, double flops, double copy) =>
        timings.Select(t => new BenchCase(suite, t.Name, shape, t, bytes, flops, timings[0].Name, t.SpeedupOver(timings[0]), copy));
}

/// <summary>Sizes of the suites.</summary>
/// <param name="NormRows">Rows of the norm input (tokens).</param>
/// <param name="NormFeatures">Features of the norm input.</param>
/// <param name="SoftmaxRows">Rows of the in-cache softmax input.</param>
/// <param name="SoftmaxColumns">Columns of the in-cache softmax input.</param>
/// <param name="MatrixSize">Side of the int8 matrices.</param>
public sealed record BenchSizes(long NormRows = 4096, long NormFeatures = 4096, long SoftmaxRows = 4096, long SoftmaxColumns = 4096, long MatrixSize = 4096);
