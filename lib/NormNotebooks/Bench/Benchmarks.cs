// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using System.Text.Json;
using NormNotebooks.Kernels;
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Reporting;
using NormNotebooks.Runtime;
using static TorchSharp.torch;

namespace NormNotebooks.Bench;

/// <summary>One timed case with its work and its ratio to the baseline of its group, measured in the same run.</summary>
/// <param name="Suite">norms, softmax, int8 or step.</param>
/// <param name="Name">What ran.</param>
/// <param name="Shape">The input's shape.</param>
/// <param name="Timing">Median and quartiles.</param>
/// <param name="Bytes">Bytes an ideal implementation moves (each input read once, each output written once), or 0.</param>
/// <param name="Flops">Arithmetic operations counted by the usual convention (2 per multiply-add), or 0.</param>
/// <param name="Baseline">The case this one is compared with.</param>
/// <param name="Speedup">Baseline median / this median (&gt; 1: faster).</param>
/// <param name="CopyBandwidthGBps">This machine's copy bandwidth measured in the same run, for <see cref="BandwidthFraction"/>.</param>
/// <param name="SpeedupInterval">The speedup's 95% interval over the medians of consecutive blocks of paired rounds (geometric mean;
/// null when too few rounds ran).</param>
/// <param name="TrafficBytes">Bytes this algorithm itself reads and writes (e.g. a softmax that reads its input twice), or 0: against the
/// copy bandwidth it tells a memory-bound case from a compute-bound one.</param>
/// <param name="PageFaultsPerRun">Page faults of the timing thread per timed run of this case, where counted (<see cref="Runtime.PageFaults"/>):
/// above 0, the time includes the kernel mapping fresh memory.</param>
public sealed record BenchCase(string Suite, string Name, string Shape, Timing Timing, double Bytes, double Flops, string Baseline, double Speedup,
    double CopyBandwidthGBps, Interval? SpeedupInterval = null, double TrafficBytes = 0, double? PageFaultsPerRun = null)
{
    /// <summary>Bytes this algorithm moves per second, in GB/s (0 when not given).</summary>
    public double TrafficGBps => TrafficBytes / (Timing.MedianMs * 1e-3) / 1e9;

    /// <summary>Bytes moved per second, in GB/s.</summary>
    public double GBps => Bytes / (Timing.MedianMs * 1e-3) / 1e9;

    /// <summary>GFLOP/s.</summary>
    public double GFlops => Flops / (Timing.MedianMs * 1e-3) / 1e9;

    /// <summary>Share of the measured copy bandwidth this case reaches.</summary>
    public double BandwidthFraction => CopyBandwidthGBps > 0 ? GBps / CopyBandwidthGBps : 0;
}

/// <summary>A ratio between two cases of one group other than the baseline: e.g. fused RMSNorm over fused LayerNorm.</summary>
/// <param name="Suite">The suite.</param>
/// <param name="Shape">The group's shape.</param>
/// <param name="Case">The faster-hoped case.</param>
/// <param name="Over">The case it is compared with.</param>
/// <param name="Speedup">Time of <paramref name="Over"/> / time of <paramref name="Case"/>, with its 95% interval over paired blocks.</param>
public sealed record BenchComparison(string Suite, string Shape, string Case, string Over, Interval Speedup);

/// <summary>Where a benchmark ran.</summary>
/// <param name="Cpu">CPU model.</param>
/// <param name="KernelIsa">The instruction sets our kernels use.</param>
/// <param name="Threads">Threads of libtorch and of our kernels.</param>
/// <param name="KernelThreads">Which threads our kernels' work runs on.</param>
/// <param name="NativeHeap">How freed tensor memory is recycled (<see cref="Runtime.NativeHeap"/>).</param>
/// <param name="DotNet">.NET runtime.</param>
/// <param name="TorchSharp">TorchSharp version.</param>
/// <param name="LibTorch">libtorch version.</param>
/// <param name="Os">Operating system.</param>
/// <param name="PyTorch">PyTorch's version when it was timed as a peer.</param>
public sealed record BenchEnvironment(string Cpu, string KernelIsa, int Threads, string KernelThreads, string NativeHeap, string DotNet, string TorchSharp,
    string LibTorch, string Os, string? PyTorch);

/// <summary>A benchmark run: environment, the copy-bandwidth baseline, the cases and the extra comparisons.</summary>
public sealed record BenchReport(BenchEnvironment Environment, double CopyBandwidthGBps, IReadOnlyList<BenchCase> Cases, IReadOnlyList<BenchComparison> Comparisons)
{
    /// <summary>The report as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A case by suite and name (the first shape that has it, or the given shape).</summary>
    public BenchCase Case(string suite, string name, string? shape = null) =>
        Cases.FirstOrDefault(c => c.Suite == suite && c.Name == name && (shape is null || c.Shape == shape))
        ?? throw new KeyNotFoundException($"No case '{name}' in suite '{suite}'{(shape is null ? "" : $" at {shape}")}.");
}

/// <summary>
/// The benchmark suites of <c>normnb bench</c>: each times our C# kernels next to libtorch through TorchSharp (the CLI adds PyTorch from
/// Debian's python3-torch when installed), interleaved so that drift hits all alike, and reports medians, quartiles, GB/s or GFLOP/s,
/// the fraction of this machine's copy bandwidth (a copy into a preallocated tensor, measured in the same run) and the ratio to the
/// group's baseline with its interval over paired blocks of rounds. No timing is asserted anywhere: the targets are read off these tables.
/// </summary>
public static class Benchmarks
{
    /// <summary>Blocks of rounds over which speedup intervals are taken.</summary>
    public const int Blocks = 10;

    /// <summary>The suites.</summary>
    public static IReadOnlyList<string> Suites { get; } = ["norms", "softmax", "int8", "step"];

    /// <summary>Runs <paramref name="suites"/> and returns the report.</summary>
    public static BenchReport Run(IEnumerable<string> suites, BenchSizes sizes, TimeSpan budget, Action<string>? progress = null)
    {
        TorchRuntime.EnsureLoaded();
        var chosen = suites.ToList();
        var cases = new List<BenchCase>();
        var comparisons = new List<BenchComparison>();
        progress?.Invoke("copy bandwidth");
        var copy = CopyBandwidth(sizes.CopyFloats, budget);
        foreach (var suite in chosen)
        {
            switch (suite)
            {
                case "norms":
                    foreach (var (rows, n) in sizes.NormShapes)
                    {
                        progress?.Invoke($"norms [{rows}, {n}]");
                        var (normCases, normComparisons) = Norms(rows, n, budget, copy);
                        cases.AddRange(normCases);
                        comparisons.AddRange(normComparisons);
                    }
                    break;
                case "softmax":
                    progress?.Invoke(suite);
                    var (softmaxCases, softmaxComparisons) = Softmax(sizes.SoftmaxRows, sizes.SoftmaxColumns, budget, copy);
                    cases.AddRange(softmaxCases);
                    comparisons.AddRange(softmaxComparisons);
                    break;
                case "int8":
                    progress?.Invoke(suite);
                    cases.AddRange(Int8(sizes.MatrixSize, budget, copy));
                    break;
                case "step":
                    progress?.Invoke(suite);
                    var (stepCases, stepComparisons) = Step(sizes.Step, budget);
                    cases.AddRange(stepCases);
                    comparisons.AddRange(stepComparisons);
                    break;
                default:
                    throw new ArgumentException($"Unknown suite '{suite}'; available: {string.Join(", ", Suites)}, all.", nameof(suites));
            }
        }
        return new BenchReport(Environment(), copy, cases, comparisons);
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

    /// <summary>GB/s (bytes read + written) of <c>Buffer.MemoryCopy</c> between two 64-byte-aligned native buffers of
    /// <paramref name="floats"/> float32 values on the calling thread, repeated within each timed run until at least 2²² floats are
    /// copied, so that small sizes measure the cache, not the cost of a call: the one-thread roofline at that size.</summary>
    public static unsafe double MemoryCopyBandwidth(long floats, TimeSpan budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(floats);
        var bytes = floats * sizeof(float);
        var source = (float*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        var target = (float*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            NativeMemory.Fill(source, (nuint)bytes, 0x3F);
            var repeats = (int)Math.Max(1, (1L << 22) / floats);
            var timing = Measure.Run("memory copy", () =>
            {
                for (var k = 0; k < repeats; k++)
                    Buffer.MemoryCopy(source, target, bytes, bytes);
            }, budget);
            return 2.0 * bytes * repeats / (timing.MedianMs * 1e-3) / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(source);
            NativeMemory.AlignedFree(target);
        }
    }

    /// <summary>Fused LayerNorm and RMSNorm against libtorch's <c>layer_norm</c>, forward (no autograd) and forward+backward (autograd,
    /// as training runs them), on [<paramref name="rows"/>, <paramref name="n"/>]; RMSNorm composed of torch ops for reference, and
    /// fused RMSNorm compared with fused LayerNorm.</summary>
    public static (IReadOnlyList<BenchCase> Cases, IReadOnlyList<BenchComparison> Comparisons) Norms(long rows, long n, TimeSpan budget, double copy)
    {
        using var scope = NewDisposeScope();
        var shape = $"[{rows}, {n}] float32";
        var x = randn(rows, n);
        var upstream = randn(rows, n);
        var (torchLayerNorm, fusedLayerNorm) = (new LayerNorm(n, implementation: NormImplementation.Torch), new LayerNorm(n, implementation: NormImplementation.Fused));
        var (torchRmsNorm, fusedRmsNorm) = (new RmsNorm(n, 1e-6, implementation: NormImplementation.Torch), new RmsNorm(n, 1e-6, implementation: NormImplementation.Fused));
        var elements = (double)rows * n;
        Action Forward(Func<Tensor, Tensor> f) => () => { using var s = NewDisposeScope(); using var _ = no_grad(); f(x); };
        // autograd.grad, not backward(): backward() would hand dx to the leaf's AccumulateGrad, which copies a gradient that anything
        // else still references (a C# function's result always is, until its scope ends), a copy a non-leaf input never pays in training.
        Action Both(nn.Module<Tensor, Tensor> norm) => () =>
        {
            using var s = NewDisposeScope();
            var xg = x.detach().requires_grad_();
            autograd.grad([norm.forward(xg)], [xg, .. norm.parameters()], [upstream]);
        };
        var forward = Measure.Interleaved(
        [
            ("libtorch layer_norm forward", Forward(torchLayerNorm.forward)),
            ("fused LayerNorm forward", Forward(fusedLayerNorm.forward)),
            ("fused RMSNorm forward", Forward(fusedRmsNorm.forward)),
            ("RMSNorm from torch ops, forward", Forward(torchRmsNorm.forward)),
        ], budget * 4, minRounds: 2 * Blocks);
        var both = Measure.Interleaved(
        [
            ("libtorch layer_norm forward+backward", Both(torchLayerNorm)),
            ("fused LayerNorm forward+backward", Both(fusedLayerNorm)),
            ("fused RMSNorm forward+backward", Both(fusedRmsNorm)),
            ("RMSNorm from torch ops, forward+backward", Both(torchRmsNorm)),
        ], budget * 4, minRounds: 2 * Blocks);
        // Ideal traffic: the forward reads x and writes y; the backward reads x and dy and writes dx.
        var cases = Cases("norms", shape, forward, 8 * elements, 0, copy).Concat(Cases("norms", shape, both, 20 * elements, 0, copy)).ToList();
        return (cases, [Compare("norms", shape, forward[2], forward[1]), Compare("norms", shape, both[2], both[1])]);
    }

    /// <summary>One training step (zero_grad, forward, cross-entropy, backward, AdamW) with each norm implementation, interleaved, the same
    /// initial weights and batch for each: the character Transformer (a few norm calls on large inputs) and notebook 11's character GRU
    /// normalised at every time step (two norm calls per step on [batch, 2H] and [batch, H], 130 calls a forward).</summary>
    public static (IReadOnlyList<BenchCase> Cases, IReadOnlyList<BenchComparison> Comparisons) Step(StepShape shape, TimeSpan budget)
    {
        using var scope = NewDisposeScope();
        const int vocabulary = 96;
        var generator = new Generator(5);
        IReadOnlyList<(string Name, Action Action)> Arms(Func<string, NormImplementation, nn.Module<Tensor, Tensor>> build, long batch, long context)
        {
            var tokens = randint(vocabulary, [batch, context + 1], generator: generator);
            var (inputs, targets) = (tokens[.., ..^1].contiguous(), tokens[.., 1..].contiguous());
            Action TrainingStep(string norm, NormImplementation implementation)
            {
                manual_seed(7);
                var model = build(norm, implementation);
                var optimizer = optim.AdamW(model.parameters(), 1e-4);
                model.train();
                return () =>
                {
                    using var s = NewDisposeScope();
                    optimizer.zero_grad();
                    nn.functional.cross_entropy(model.forward(inputs).reshape(-1, vocabulary), targets.reshape(-1)).backward();
                    optimizer.step();
                };
            }
            return
            [
                ("libtorch LayerNorm (layer_norm)", TrainingStep("layernorm", NormImplementation.Torch)),
                ("fused LayerNorm", TrainingStep("layernorm", NormImplementation.Fused)),
                ("fused RMSNorm", TrainingStep("rmsnorm", NormImplementation.Fused)),
                ("RMSNorm from torch ops", TrainingStep("rmsnorm", NormImplementation.Torch)),
            ];
        }
        var cases = new List<BenchCase>();
        var comparisons = new List<BenchComparison>();
        void Time(string described, IReadOnlyList<(string, Action)> arms)
        {
            var timings = Measure.Interleaved(arms, budget * 4, minRounds: 2 * Blocks);
            cases.AddRange(Cases("step", described, timings, 0, 0, 0));
            comparisons.Add(Compare("step", described, timings[2], timings[1]));
        }
        Time($"character Transformer d={shape.Width}, L={shape.Depth}, {shape.Heads} heads, batch {shape.Batch} × {shape.Context} tokens",
            Arms((norm, implementation) => new CharTransformer(new TransformerConfig(vocabulary, shape.Width, shape.Depth, shape.Heads, shape.Context, norm,
                NormImplementation: implementation)), shape.Batch, shape.Context));
        Time($"character GRU H={shape.GruHidden}, norms at every time step, batch {shape.GruBatch} × {shape.GruContext} tokens",
            Arms((norm, implementation) => new CharGru(new GruConfig(vocabulary, 64, shape.GruHidden, norm, NormImplementation: implementation)),
                shape.GruBatch, shape.GruContext));
        return (cases, comparisons);
    }

    /// <summary>The three softmax algorithms against torch.softmax, on the given shape and on rows far larger than the caches, each with
    /// the traffic it really makes (recompute reads x three times, reload reads x twice and y once and writes y twice, two-pass reads x
    /// twice); the paper's comparison, two-pass over three-pass reload; and the kernels' exp on one core with data in L1, the compute
    /// ceiling.</summary>
    public static (IReadOnlyList<BenchCase> Cases, IReadOnlyList<BenchComparison> Comparisons) Softmax(long rows, long n, TimeSpan budget, double copy)
    {
        var results = new List<BenchCase>();
        var comparisons = new List<BenchComparison>();
        // The second shape: 4 rows of up to 2^23 floats (32 MB each, beyond L2 and, together, L3), scaled down with small sizes.
        foreach (var (r, c) in new[] { (rows, n), (4L, Math.Clamp(rows * n * 2, 4096L, 1L << 23)) })
        {
            var cases = SoftmaxAt(r, c, budget * 4, copy);
            results.AddRange(cases);
            comparisons.Add(Compare("softmax", cases[0].Shape, cases[3].Timing, cases[2].Timing));
        }
        results.Add(ExpCeiling(budget, copy));
        return (results, comparisons);
    }

    /// <summary>The softmax cases at one shape [<paramref name="rows"/>, <paramref name="n"/>] of N(0, 9) floats, interleaved for
    /// <paramref name="budget"/> (at least 2·<see cref="Blocks"/> rounds), in this order: torch.softmax (the baseline), three-pass
    /// recompute, three-pass reload, two-pass. Bytes count one read and one write of the data; TrafficBytes what each algorithm
    /// moves (4, 5 and 3 times the data). The kernels run on <see cref="SoftmaxKernels.Threads"/> threads, libtorch on its own.
    /// With <paramref name="repeats"/> &gt; 1 every timed run calls each action that many times on the same data (small sizes then
    /// measure the cache, not the cost of a call) and Bytes and TrafficBytes count every call. With <paramref name="direct"/> the
    /// three algorithms are called through <see cref="SoftmaxKernels.Softmax"/> on the tensors' memory, without
    /// <see cref="FusedSoftmax"/>'s checks of the tensors (a few µs a call, which dominate rows of a few thousand floats).
    /// Each case carries its page faults per timed run (warm-up excluded): torch.softmax allocates its output at every call.</summary>
    public static unsafe IReadOnlyList<BenchCase> SoftmaxAt(long rows, long n, TimeSpan budget, double copy, int repeats = 1, bool direct = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        using var scope = NewDisposeScope();
        var x = randn(rows, n) * 3;
        var y = empty(rows, n);
        var px = TensorMemory.Float32(x);
        var py = TensorMemory.Float32(y);
        const int warmup = 3;
        var faults = new Dictionary<string, (long Faults, long Runs, int Calls)>();
        (string, Action) Counted(string name, Action action)
        {
            void Run()
            {
                var before = PageFaults.ThisThread();
                action();
                var (total, runs, calls) = faults.GetValueOrDefault(name);
                faults[name] = calls < warmup ? (0, 0, calls + 1) : (total + PageFaults.ThisThread() - before, runs + 1, calls + 1);   // timed runs only
            }
            return (name, Run);
        }
        Action Repeated(Action action) => () => { for (var k = 0; k < repeats; k++) action(); };
        Action Kernel(SoftmaxAlgorithm algorithm) => direct
            ? Repeated(() => SoftmaxKernels.Softmax(px, py, rows, (int)n, algorithm))
            : Repeated(() => FusedSoftmax.Softmax(x, algorithm, y));
        var timings = Measure.Interleaved(
        [
            Counted("torch.softmax", Repeated(() => { using var s = NewDisposeScope(); x.softmax(-1); })),
            Counted("three-pass recompute", Kernel(SoftmaxAlgorithm.ThreePassRecompute)),
            Counted("three-pass reload", Kernel(SoftmaxAlgorithm.ThreePassReload)),
            Counted("two-pass", Kernel(SoftmaxAlgorithm.TwoPass)),
        ], budget, warmup, minRounds: 2 * Blocks);
        var where = n * 4 > 4L << 20 ? "rows out of cache" : "rows in cache";
        var elements = 4.0 * rows * n * repeats;
        var traffic = new Dictionary<string, double> { ["three-pass recompute"] = 4 * elements, ["three-pass reload"] = 5 * elements, ["two-pass"] = 3 * elements };
        return Cases("softmax", $"[{rows}, {n}] float32 ({where}){(repeats > 1 ? $" × {repeats} calls" : "")}", timings, 2 * elements, 0, copy)
            .Select(k => k with
            {
                TrafficBytes = traffic.GetValueOrDefault(k.Name),
                PageFaultsPerRun = PageFaults.Available && faults.TryGetValue(k.Name, out var f) && f.Runs > 0 ? (double)f.Faults / f.Runs : null,
            }).ToList();
    }

    /// <summary>The compute ceiling of the softmax kernels: their exp on one thread over 4,096 floats in L1, 64 times per run
    /// (the GFlops column counts exponentials: G exp/s).</summary>
    public static unsafe BenchCase ExpCeiling(TimeSpan budget, double copy)
    {
        const int n = 4096;      // 16 KiB in, 16 KiB out: both in L1
        using var scope = NewDisposeScope();
        var (x, y) = (randn(n) * 3, empty(n));
        var px = TensorMemory.Float32(x);
        var py = TensorMemory.Float32(y);
        var timing = Measure.Run("the kernels' exp on one core, data in L1 (GFLOP/s column: G exp/s)", () =>
        {
            for (var k = 0; k < 64; k++)
                SoftmaxKernels.Exp(px, py, n);
        }, budget);
        return new BenchCase("softmax", timing.Name, $"[{n}] float32 × 64, one thread", timing, 0, 64.0 * n, timing.Name, 1, copy);
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
        var isa = $"norms and softmax: {Simd.Isa}; int8: {Int8Kernels.Isa}";
        return new BenchEnvironment(info.Cpu, isa, NormKernels.Threads, Workers.Where, info.NativeHeap, info.DotNet, info.TorchSharp, info.LibTorch,
            RuntimeInformation.OSDescription, PyTorch: null);
    }

    private static IEnumerable<BenchCase> Cases(string suite, string shape, IReadOnlyList<Timing> timings, double bytes, double flops, double copy) =>
        timings.Select(t => new BenchCase(suite, t.Name, shape, t, bytes, flops, timings[0].Name, t.SpeedupOver(timings[0]), copy, PairedSpeedup(timings[0], t)));

    private static BenchComparison Compare(string suite, string shape, Timing candidate, Timing over) =>
        new(suite, shape, candidate.Name, over.Name, PairedSpeedup(over, candidate) ?? new Interval(candidate.SpeedupOver(over), null, null, 1, 0.95));

    /// <summary>Speedup of <paramref name="candidate"/> over <paramref name="baseline"/> (both from one interleaved run) with its interval
    /// over <see cref="Blocks"/> blocks of consecutive rounds, or null with fewer rounds than blocks.</summary>
    internal static Interval? PairedSpeedup(Timing baseline, Timing candidate) =>
        baseline.RoundsMs.Count < Blocks || candidate.RoundsMs.Count < Blocks
            ? null
            : Interval.Of(baseline.BlockMedians(Blocks).Zip(candidate.BlockMedians(Blocks), (b, c) => b / c).ToArray(), ratio: true);
}

/// <summary>The training step the step suite times.</summary>
/// <param name="Width">Residual width d.</param>
/// <param name="Depth">Blocks.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="Context">Tokens per sequence.</param>
/// <param name="Batch">Sequences per step.</param>
/// <param name="GruHidden">The GRU's state width H (embedding 64).</param>
/// <param name="GruContext">The GRU's tokens per sequence.</param>
/// <param name="GruBatch">The GRU's sequences per step.</param>
public sealed record StepShape(int Width = 256, int Depth = 4, int Heads = 4, int Context = 128, int Batch = 16, int GruHidden = 256, int GruContext = 64,
    int GruBatch = 32);

/// <summary>Sizes of the suites.</summary>
/// <param name="NormShapes">[rows, features] of the norm inputs; default: the shapes the notebooks train at ([2048, 64–256]: batch 16 × 128
/// tokens; [8192, 512]) and [4096, 4096].</param>
/// <param name="SoftmaxRows">Rows of the in-cache softmax input.</param>
/// <param name="SoftmaxColumns">Columns of the in-cache softmax input.</param>
/// <param name="MatrixSize">Side of the int8 matrices.</param>
/// <param name="StepShape">The training step of the step suite (null: <see cref="Bench.StepShape"/>'s defaults).</param>
public sealed record BenchSizes(IReadOnlyList<(long Rows, long Features)> NormShapes, long SoftmaxRows = 4096, long SoftmaxColumns = 4096, long MatrixSize = 4096,
    StepShape? StepShape = null)
{
    /// <summary>The norm shapes of the benchmark issue.</summary>
    public static IReadOnlyList<(long Rows, long Features)> TrainingShapes { get; } = [(2048, 64), (2048, 128), (2048, 256), (8192, 512), (4096, 4096)];

    /// <summary>The suites' default sizes.</summary>
    public static BenchSizes Default { get; } = new(TrainingShapes);

    /// <summary>The training step (default <see cref="StepShape"/>'s).</summary>
    public StepShape Step => StepShape ?? new StepShape();

    /// <summary>Floats of the copy that measures bandwidth: the largest norm or softmax input, at least 4 Mi (beyond the caches).</summary>
    public long CopyFloats => Math.Max(1L << 22, Math.Max(SoftmaxRows * SoftmaxColumns, NormShapes.Count == 0 ? 0 : NormShapes.Max(s => s.Rows * s.Features)));
}
