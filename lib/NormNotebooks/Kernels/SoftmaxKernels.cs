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
/// Softmax over the last axis of float32 rows in C# SIMD (<see cref="Vector256{T}"/>, scalar tails), rows split across threads.
/// The Two-Pass Softmax follows Dukhan &amp; Ablavatski, "The Two-Pass Softmax Algorithm", arXiv:2001.04438: exp(x) = m·2ⁿ with
/// n = round(x·log₂e) and m = exp(x − n·ln 2) ∈ [√½, √2] by a degree-6 polynomial after a Cody–Waite reduction.
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
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            for (var row = first; row < end; row++)
            {
                var xr = x + row * n;
                var yr = y + row * n;
                switch (algorithm)
                {
                    case SoftmaxAlgorithm.ThreePassRecompute: ThreePassRecompute(xr, yr, n); break;
                    case SoftmaxAlgorithm.ThreePassReload: ThreePassReload(xr, yr, n); break;
                    default: TwoPass(xr, yr, n); break;
                }
            }
        });
    }

    private static void ThreePassRecompute(float* x, float* y, int n)
    {
        var max = Max(x, n);
        var vmax = Vector256.Create(max);
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i <= n - 8; i += 8)
            acc += Exp(Vector256.Load(x + i) - vmax);
        var sum = Vector256.Sum(acc);
        for (; i < n; i++)
            sum += ExpScalar(x[i] - max);
        var scale = Vector256.Create(1f / sum);
        i = 0;
        for (; i <= n - 8; i += 8)
            (Exp(Vector256.Load(x + i) - vmax) * scale).Store(y + i);
        for (; i < n; i++)
            y[i] = ExpScalar(x[i] - max) / sum;
    }

    private static void ThreePassReload(float* x, float* y, int n)
    {
        var max = Max(x, n);
        var vmax = Vector256.Create(max);
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i <= n - 8; i += 8)
        {
            var e = Exp(Vector256.Load(x + i) - vmax);
            e.Store(y + i);
            acc += e;
        }
        var sum = Vector256.Sum(acc);
        for (; i < n; i++)
        {
            y[i] = ExpScalar(x[i] - max);
            sum += y[i];
        }
        var scale = Vector256.Create(1f / sum);
        i = 0;
        for (; i <= n - 8; i += 8)
            (Vector256.Load(y + i) * scale).Store(y + i);
        for (; i < n; i++)
            y[i] /= sum;
    }

    private static void TwoPass(float* x, float* y, int n)
    {
        // Pass 1: per lane (m, e) with Σ = m·2^e; a new term rescales whichever side has the smaller exponent.
        var m = Vector256<float>.Zero;
        var e = Vector256.Create(MinExponent);
        var i = 0;
        for (; i <= n - 8; i += 8)
        {
            var (mi, ei) = Split(Vector256.Load(x + i));
            var emax = Vector256.Max(e, ei);
            m = Scale(m, e - emax) + Scale(mi, ei - emax);
            e = emax;
        }
        float sm = 0, se = MinExponent;
        for (var lane = 0; lane < 8; lane++)
            Accumulate(ref sm, ref se, m.GetElement(lane), e.GetElement(lane));
        for (; i < n; i++)
        {
            var (mi, ei) = SplitScalar(x[i]);
            Accumulate(ref sm, ref se, mi, ei);
        }
        // Pass 2: y = m_i·2^(e_i − e_Σ)/m_Σ.
        var inverse = Vector256.Create(1f / sm);
        var vse = Vector256.Create(se);
        i = 0;
        for (; i <= n - 8; i += 8)
        {
            var (mi, ei) = Split(Vector256.Load(x + i));
            (Scale(mi, ei - vse) * inverse).Store(y + i);
        }
        for (; i < n; i++)
        {
            var (mi, ei) = SplitScalar(x[i]);
            y[i] = ScaleScalar(mi, ei - se) / sm;
        }
    }

    private static void Accumulate(ref float m, ref float e, float mi, float ei)
    {
        var emax = MathF.Max(e, ei);
        m = ScaleScalar(m, e - emax) + ScaleScalar(mi, ei - emax);
        e = emax;
    }

    private static float Max(float* x, int n)
    {
        var acc = Vector256.Create(float.NegativeInfinity);
        var i = 0;
        for (; i <= n - 8; i += 8)
            acc = Vector256.Max(acc, Vector256.Load(x + i));
        var max = float.NegativeInfinity;
        for (var lane = 0; lane < 8; lane++)
            max = MathF.Max(max, acc.GetElement(lane));
        for (; i < n; i++)
            max = MathF.Max(max, x[i]);
        return max;
    }

    /// <summary>exp(x) as (m, n): n = round(x·log₂e) clamped, m = exp(x − n·ln 2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> M, Vector256<float> N) Split(Vector256<float> x)
    {
        var n = Vector256.Max(Vector256.Round(x * Vector256.Create(Log2E)), Vector256.Create(MinExponent));
        var t = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), Vector256.Max(x, Vector256.Create(MinExponent)));
        t = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), t);
        t = Vector256.Max(t, Vector256.Create(-1f));   // only the clamped −∞ case reaches below −ln2/2; its weight is 0 anyway
        return (Polynomial(t), n);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Exp(Vector256<float> x)
    {
        var (m, n) = Split(x);
        return Scale(m, n);
    }

    // exp(t) for |t| ≤ ln2/2 by Taylor to degree 6 (relative error < 2e-7 there), Horner with fused multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Polynomial(Vector256<float> t)
    {
        var p = Vector256.Create(1f / 720);
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256<float>.One);
        return Vector256.FusedMultiplyAdd(p, t, Vector256<float>.One);
    }

    /// <summary>m·2^k for integral k ≤ 127 (k below −252 gives 0), built from exponent bits in two steps so denormals come out right.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Scale(Vector256<float> m, Vector256<float> k)
    {
        var clamped = Vector256.Max(k, Vector256.Create(-252f));
        var half = Vector256.Floor(clamped * Vector256.Create(0.5f));
        var rest = clamped - half;
        return m * Power(half) * Power(rest) & Vector256.GreaterThan(k, Vector256.Create(-252f));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Power(Vector256<float> k) =>   // 2^k for integral k in [−126, 127]
        Vector256.ShiftLeft(Vector256.ConvertToInt32(k) + Vector256.Create(127), 23).AsSingle();

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

    private static float ScaleScalar(float m, float k) => k <= -252 ? 0f : MathF.ScaleB(m, (int)MathF.Max(k, -252));
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
