// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNotebooks.Kernels;

/// <summary>The softmax algorithms compared by Dukhan &amp; Ablavatski.</summary>
public enum SoftmaxAlgorithm
{
    /// <summary>Three passes, recomputing: max; Σ exp(x − max); y = exp(x − max)/Σ (reads x three times, writes y once).</summary>
    ThreePassRecompute,

    /// <summary>Three passes, reloading: max; e = exp(x − max) stored into y and summed; y = e/Σ (reads x twice and y once, writes y twice).</summary>
    ThreePassReload,

    /// <summary>Two passes: Σ exp(x) accumulated as (mantissa, exponent) pairs, which cannot overflow, so no max pass is needed; then
    /// y = m·2^(n − n_Σ)/m_Σ recomputed from x (reads x twice, writes y once).</summary>
    TwoPass,
}

/// <summary>
/// Softmax over the last axis of float32 rows in C# SIMD (512-bit registers where the CPU accelerates them, else 256-bit; scalar tails),
/// rows split across <see cref="Workers"/>. The Two-Pass Softmax follows Dukhan &amp; Ablavatski, "The Two-Pass Softmax Algorithm",
/// arXiv:2001.04438: exp(x) = m·2ⁿ with n = round(x·log₂e) and m = exp(x − n·ln 2) ∈ [√½, √2] by a degree-6 polynomial after a
/// Cody–Waite reduction; the sum is kept as (m, n) pairs per lane, rescaled with AVX-512's vscalefps (the instruction the paper builds
/// on), in four independent accumulators so that the pass is not held up by the latency of one chain. Outputs of
/// <see cref="NormKernels.StreamingBytes"/> or more are stored non-temporally by the algorithms that write them once (two-pass,
/// three-pass recompute); three-pass reload reads its output back and stores normally.
/// Numerics match torch.softmax within 1e-6 relative, including rows with huge or tiny values and −∞ entries (which get 0); a row
/// of only −∞ gives NaN in torch and a uniform row here.
/// </summary>
public static unsafe class SoftmaxKernels
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693145751953125f;          // ln 2 split for an exact n·ln2 (Cody–Waite)
    private const float Ln2Lo = 1.42860682030941723212e-6f;
    private const float MinExponent = -16_777_216f;           // n clamp: keeps n exact in float and −∞ finite

    /// <summary>Worker threads (default: the norm kernels' setting).</summary>
    public static int Threads
    {
        get => _threads ?? NormKernels.Threads;
        set => _threads = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be positive.");
    }

    private static int? _threads;

    /// <summary>y = softmax(x) row by row for x, y [rows, n] (y may alias x only for <see cref="SoftmaxAlgorithm.ThreePassRecompute"/> and TwoPass).</summary>
    public static void Softmax(float* x, float* y, long rows, int n, SoftmaxAlgorithm algorithm)
    {
        var stream = algorithm != SoftmaxAlgorithm.ThreePassReload && x != y && rows * n * sizeof(float) >= NormKernels.StreamingBytes
            && Simd.RowsAligned(y, n, Simd.Use512 ? 16 : 8);
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            // One method per algorithm and width, so that each gets the JIT's whole inlining budget.
            switch (algorithm, Simd.Use512)
            {
                case (SoftmaxAlgorithm.ThreePassRecompute, true): ThreePassRecomputeRows<V512>(x, y, first, end, n, stream); break;
                case (SoftmaxAlgorithm.ThreePassRecompute, false): ThreePassRecomputeRows<V256>(x, y, first, end, n, stream); break;
                case (SoftmaxAlgorithm.ThreePassReload, true): ThreePassReloadRows<V512>(x, y, first, end, n); break;
                case (SoftmaxAlgorithm.ThreePassReload, false): ThreePassReloadRows<V256>(x, y, first, end, n); break;
                case (_, true): TwoPassRows<V512>(x, y, first, end, n, stream); break;
                default: TwoPassRows<V256>(x, y, first, end, n, stream); break;
            }
        }, n);
    }

    /// <summary>y = exp(x) elementwise on the calling thread with the kernels' exp (the polynomial and the scaling of every algorithm
    /// above); its throughput on data in L1 is the compute ceiling the softmax passes run against.</summary>
    public static void Exp(float* x, float* y, int n)
    {
        if (Simd.Use512)
            ExpRun<V512>(x, y, n);
        else
            ExpRun<V256>(x, y, n);
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void ExpRun<TV>(float* x, float* y, int n) where TV : unmanaged, ISimd<TV>
    {
        var i = 0;
        for (; i <= n - TV.Width; i += TV.Width)
            TV.Store(Exp(TV.Load(x + i)), y + i);
        for (; i < n; i++)
            y[i] = ExpScalar(x[i]);
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void ThreePassRecomputeRows<TV>(float* x, float* y, long first, long end, int n, bool stream) where TV : unmanaged, ISimd<TV>
    {
        for (var row = first; row < end; row++)
            ThreePassRecompute<TV>(x + row * n, y + row * n, n, stream);
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void ThreePassReloadRows<TV>(float* x, float* y, long first, long end, int n) where TV : unmanaged, ISimd<TV>
    {
        for (var row = first; row < end; row++)
            ThreePassReload<TV>(x + row * n, y + row * n, n);
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void TwoPassRows<TV>(float* x, float* y, long first, long end, int n, bool stream) where TV : unmanaged, ISimd<TV>
    {
        for (var row = first; row < end; row++)
            TwoPass<TV>(x + row * n, y + row * n, n, stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TV>(TV v, float* p, bool stream) where TV : unmanaged, ISimd<TV>
    {
        if (stream)
            TV.StoreNonTemporal(v, p);
        else
            TV.Store(v, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ThreePassRecompute<TV>(float* x, float* y, int n, bool stream) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var max = Max<TV>(x, n);
        var vmax = TV.Create(max);
        var (a0, a1, a2, a3) = (TV.Zero, TV.Zero, TV.Zero, TV.Zero);
        var i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            a0 += Exp(TV.Load(x + i) - vmax);
            a1 += Exp(TV.Load(x + i + w) - vmax);
            a2 += Exp(TV.Load(x + i + 2 * w) - vmax);
            a3 += Exp(TV.Load(x + i + 3 * w) - vmax);
        }
        for (; i <= n - w; i += w)
            a0 += Exp(TV.Load(x + i) - vmax);
        var sum = TV.Sum(a0 + a1 + (a2 + a3));
        for (; i < n; i++)
            sum += ExpScalar(x[i] - max);
        var scale = TV.Create(1f / sum);
        for (i = 0; i <= n - w; i += w)
            Store(Exp(TV.Load(x + i) - vmax) * scale, y + i, stream);
        for (; i < n; i++)
            y[i] = ExpScalar(x[i] - max) / sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ThreePassReload<TV>(float* x, float* y, int n) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var max = Max<TV>(x, n);
        var vmax = TV.Create(max);
        var (a0, a1) = (TV.Zero, TV.Zero);
        var i = 0;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var e0 = Exp(TV.Load(x + i) - vmax);
            var e1 = Exp(TV.Load(x + i + w) - vmax);
            TV.Store(e0, y + i);
            TV.Store(e1, y + i + w);
            a0 += e0;
            a1 += e1;
        }
        for (; i <= n - w; i += w)
        {
            var e = Exp(TV.Load(x + i) - vmax);
            TV.Store(e, y + i);
            a0 += e;
        }
        var sum = TV.Sum(a0 + a1);
        for (; i < n; i++)
        {
            y[i] = ExpScalar(x[i] - max);
            sum += y[i];
        }
        var scale = TV.Create(1f / sum);
        for (i = 0; i <= n - w; i += w)
            TV.Store(TV.Load(y + i) * scale, y + i);
        for (; i < n; i++)
            y[i] /= sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TwoPass<TV>(float* x, float* y, int n, bool stream) where TV : unmanaged, ISimd<TV>
    {
        // Pass 1: per lane (m, e) with Σ = m·2^e, four accumulators; a new term rescales whichever side has the smaller exponent.
        var w = TV.Width;
        var (m0, m1, m2, m3) = (TV.Zero, TV.Zero, TV.Zero, TV.Zero);
        var start = TV.Create(MinExponent);
        var (e0, e1, e2, e3) = (start, start, start, start);
        var i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            Accumulate(ref m0, ref e0, TV.Load(x + i));
            Accumulate(ref m1, ref e1, TV.Load(x + i + w));
            Accumulate(ref m2, ref e2, TV.Load(x + i + 2 * w));
            Accumulate(ref m3, ref e3, TV.Load(x + i + 3 * w));
        }
        for (; i <= n - w; i += w)
            Accumulate(ref m0, ref e0, TV.Load(x + i));
        Merge(ref m0, ref e0, m1, e1);
        Merge(ref m2, ref e2, m3, e3);
        Merge(ref m0, ref e0, m2, e2);
        var se = TV.MaxAcross(e0);
        var sm = TV.Sum(TV.Scale(m0, e0 - TV.Create(se)));
        for (; i < n; i++)
        {
            var (mi, ei) = SplitScalar(x[i]);
            AccumulateScalar(ref sm, ref se, mi, ei);
        }
        // Pass 2: y = (m_i / m_Σ)·2^(e_i − e_Σ).
        var inverse = TV.Create(1f / sm);
        var vse = TV.Create(se);
        for (i = 0; i <= n - w; i += w)
        {
            var (mi, ei) = Split(TV.Load(x + i));
            Store(TV.Scale(mi * inverse, ei - vse), y + i, stream);
        }
        for (; i < n; i++)
        {
            var (mi, ei) = SplitScalar(x[i]);
            y[i] = ScaleScalar(mi / sm, ei - se);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TV>(ref TV m, ref TV e, TV x) where TV : unmanaged, ISimd<TV>
    {
        var (mi, ei) = Split(x);
        Merge(ref m, ref e, mi, ei);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Merge<TV>(ref TV m, ref TV e, TV mi, TV ei) where TV : unmanaged, ISimd<TV>
    {
        var emax = TV.Max(e, ei);
        m = TV.Scale(m, e - emax) + TV.Scale(mi, ei - emax);
        e = emax;
    }

    private static void AccumulateScalar(ref float m, ref float e, float mi, float ei)
    {
        var emax = MathF.Max(e, ei);
        m = ScaleScalar(m, e - emax) + ScaleScalar(mi, ei - emax);
        e = emax;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Max<TV>(float* x, int n) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var lowest = TV.Create(float.NegativeInfinity);
        var (a0, a1, a2, a3) = (lowest, lowest, lowest, lowest);
        var i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            a0 = TV.Max(a0, TV.Load(x + i));
            a1 = TV.Max(a1, TV.Load(x + i + w));
            a2 = TV.Max(a2, TV.Load(x + i + 2 * w));
            a3 = TV.Max(a3, TV.Load(x + i + 3 * w));
        }
        for (; i <= n - w; i += w)
            a0 = TV.Max(a0, TV.Load(x + i));
        var max = TV.MaxAcross(TV.Max(TV.Max(a0, a1), TV.Max(a2, a3)));
        for (; i < n; i++)
            max = MathF.Max(max, x[i]);
        return max;
    }

    /// <summary>exp(x) as (m, n): n = round(x·log₂e) clamped, m = exp(x − n·ln 2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TV M, TV N) Split<TV>(TV x) where TV : unmanaged, ISimd<TV>
    {
        var n = TV.Max(TV.Round(x * TV.Create(Log2E)), TV.Create(MinExponent));
        var t = TV.MultiplyAdd(n, TV.Create(-Ln2Hi), TV.Max(x, TV.Create(MinExponent)));
        t = TV.MultiplyAdd(n, TV.Create(-Ln2Lo), t);
        t = TV.Max(t, TV.Create(-1f));   // only the clamped −∞ case reaches below −ln2/2; its weight is 0 anyway
        return (Polynomial(t), n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Exp<TV>(TV x) where TV : unmanaged, ISimd<TV>
    {
        var (m, n) = Split(x);
        return TV.Scale(m, n);
    }

    // exp(t) for |t| ≤ ln2/2 by Taylor to degree 6 (relative error < 2e-7 there), Horner with fused multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Polynomial<TV>(TV t) where TV : unmanaged, ISimd<TV>
    {
        var p = TV.Create(1f / 720);
        p = TV.MultiplyAdd(p, t, TV.Create(1f / 120));
        p = TV.MultiplyAdd(p, t, TV.Create(1f / 24));
        p = TV.MultiplyAdd(p, t, TV.Create(1f / 6));
        p = TV.MultiplyAdd(p, t, TV.Create(0.5f));
        p = TV.MultiplyAdd(p, t, TV.Create(1f));
        return TV.MultiplyAdd(p, t, TV.Create(1f));
    }

    private static (float M, float N) SplitScalar(float x)
    {
        var n = MathF.Max(MathF.Round(x * Log2E), MinExponent);
        var t = MathF.FusedMultiplyAdd(n, -Ln2Hi, MathF.Max(x, MinExponent));
        t = MathF.Max(MathF.FusedMultiplyAdd(n, -Ln2Lo, t), -1f);
        var p = 1f / 720;
        foreach (var c in new[] { 1f / 120, 1f / 24, 1f / 6, 0.5f, 1f, 1f })
            p = MathF.FusedMultiplyAdd(p, t, c);
        return (p, n);
    }

    private static float ExpScalar(float x)
    {
        var (m, n) = SplitScalar(x);
        return ScaleScalar(m, n);
    }

    private static float ScaleScalar(float m, float k) => k <= -252 ? 0f : MathF.ScaleB(m, (int)k);
}

/// <summary>Softmax over the last axis of a tensor with the C# kernels (forward only; contiguous float32 CPU input).</summary>
public static unsafe class FusedSoftmax
{
    /// <summary>A new tensor y = softmax(x, −1) computed with <paramref name="algorithm"/>.</summary>
    public static TorchSharp.torch.Tensor Softmax(TorchSharp.torch.Tensor x, SoftmaxAlgorithm algorithm = SoftmaxAlgorithm.TwoPass, TorchSharp.torch.Tensor? output = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!TensorMemory.IsKernelReady(x) || x.dim() < 1 || x.shape[^1] == 0)
            throw new ArgumentException($"FusedSoftmax needs a non-empty contiguous float32 CPU tensor, got {x.dtype} [{string.Join(", ", x.shape)}] on {x.device_type}.", nameof(x));
        var y = output ?? TorchSharp.torch.empty_like(x);
        if (!TensorMemory.IsKernelReady(y) || !y.shape.SequenceEqual(x.shape))
            throw new ArgumentException("FusedSoftmax: the output must be a contiguous float32 CPU tensor of the input's shape.", nameof(output));
        var n = (int)x.shape[^1];
        SoftmaxKernels.Softmax(TensorMemory.Float32(x), TensorMemory.Float32(y), x.numel() / n, n, algorithm);
        return y;
    }
}
