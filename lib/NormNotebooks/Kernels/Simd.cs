// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNotebooks.Kernels;

/// <summary>
/// A float32 SIMD register of either width, so that each kernel is written once and compiled (the JIT specialises generic methods
/// over structs) for AVX-512 where the CPU accelerates <see cref="Vector512{T}"/>, and for 256-bit vectors elsewhere, where
/// Vector512 would fall back to software.
/// </summary>
internal unsafe interface ISimd<TSelf> where TSelf : unmanaged, ISimd<TSelf>
{
    /// <summary>Floats per register.</summary>
    static abstract int Width { get; }

    static abstract TSelf Zero { get; }

    static abstract TSelf Create(float value);

    static abstract TSelf Load(float* p);

    static abstract void Store(TSelf v, float* p);

    /// <summary>A store that bypasses the caches (p aligned to the register width): for outputs far larger than the caches, it saves the
    /// read-for-ownership a normal store makes, a third of the traffic of a read-one-write-one kernel.</summary>
    static abstract void StoreNonTemporal(TSelf v, float* p);

    static abstract TSelf operator +(TSelf a, TSelf b);

    static abstract TSelf operator -(TSelf a, TSelf b);

    static abstract TSelf operator *(TSelf a, TSelf b);

    /// <summary>a·b + c, rounded once.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

    static abstract float Sum(TSelf v);

    /// <summary>The larger of each pair (the instruction's own rule: no NaN or signed-zero ordering; the kernels feed it neither).</summary>
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <summary>The largest lane.</summary>
    static abstract float MaxAcross(TSelf v);

    /// <summary>Rounded to the nearest integer, ties to even.</summary>
    static abstract TSelf Round(TSelf v);

    /// <summary>m·2^k for integral k: AVX-512's vscalefps where available, which underflows to 0 and through the denormals exactly;
    /// elsewhere built from exponent bits in two steps, for k ≤ 127 (k ≤ −252 gives 0).</summary>
    static abstract TSelf Scale(TSelf m, TSelf k);
}

/// <summary>Which width the kernels run at on this CPU.</summary>
internal static class Simd
{
    /// <summary>How a kernel's row loop is compiled: fully optimised at once, and never inlined into its caller. Inlined into the
    /// dispatching lambda, which dynamic PGO recompiles at tier 1 after a few hundred milliseconds, the row loop shares that lambda's
    /// inlining budget, its exp is left as a call, and three-pass recompute ran 12× slower from then on (measured: 0.36 → 4.8 ms for
    /// 256 rows of 4,096 floats; DOTNET_TieredPGO=0 kept it at 0.36 ms).</summary>
    public const MethodImplOptions KernelCompilation = MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization;

    /// <summary>Whether the kernels run on 512-bit registers (the CPU accelerates them); tests can force the 256-bit path.</summary>
    public static bool Use512 { get; set; } = Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>What the kernels run on, for reports.</summary>
    public static string Isa => Use512 ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar fallback";

    /// <summary>Whether <paramref name="p"/> and every row start after it (rows of <paramref name="n"/> floats) are aligned for
    /// non-temporal stores of <paramref name="width"/> floats.</summary>
    public static unsafe bool RowsAligned(float* p, int n, int width) => (nuint)p % (nuint)(4 * width) == 0 && n % width == 0;
}

internal readonly unsafe struct V512(Vector512<float> value) : ISimd<V512>
{
    private readonly Vector512<float> _v = value;

    public static int Width => 16;

    public static V512 Zero => new(Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Create(float value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Load(float* p) => new(Vector512.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V512 v, float* p) => v._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(V512 v, float* p) => Avx512F.StoreAlignedNonTemporal(p, v._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator +(V512 a, V512 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator -(V512 a, V512 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 operator *(V512 a, V512 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 MultiplyAdd(V512 a, V512 b, V512 c) => new(Vector512.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(V512 v) => Vector256.Sum(v._v.GetLower() + v._v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Max(V512 a, V512 b) => new(Vector512.MaxNative(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V512 v) => V256.MaxAcross(new V256(Vector256.MaxNative(v._v.GetLower(), v._v.GetUpper())));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Round(V512 v) => new(Vector512.Round(v._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Scale(V512 m, V512 k) => new(Avx512F.Scale(m._v, k._v));
}

internal readonly unsafe struct V256(Vector256<float> value) : ISimd<V256>
{
    private readonly Vector256<float> _v = value;

    public static int Width => 8;

    public static V256 Zero => new(Vector256<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Create(float value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Load(float* p) => new(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(V256 v, float* p) => v._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(V256 v, float* p)
    {
        if (Avx.IsSupported)
            Avx.StoreAlignedNonTemporal(p, v._v);
        else
            v._v.Store(p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator +(V256 a, V256 b) => new(a._v + b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator -(V256 a, V256 b) => new(a._v - b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 operator *(V256 a, V256 b) => new(a._v * b._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 MultiplyAdd(V256 a, V256 b, V256 c) => new(Vector256.FusedMultiplyAdd(a._v, b._v, c._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(V256 v) => Vector256.Sum(v._v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Max(V256 a, V256 b) => new(Vector256.MaxNative(a._v, b._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(V256 v)
    {
        var half = Vector128.MaxNative(v._v.GetLower(), v._v.GetUpper());
        half = Vector128.MaxNative(half, Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1)));
        return MathF.Max(half.GetElement(0), half.GetElement(1));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Round(V256 v) => new(Vector256.Round(v._v));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Scale(V256 m, V256 k)
    {
        var clamped = Vector256.Max(k._v, Vector256.Create(-252f));
        var half = Vector256.Floor(clamped * Vector256.Create(0.5f));
        return new(m._v * Power(half) * Power(clamped - half) & Vector256.GreaterThan(k._v, Vector256.Create(-252f)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Power(Vector256<float> k) =>   // 2^k for integral k in [−126, 127]
        Vector256.ShiftLeft(Vector256.ConvertToInt32(k) + Vector256.Create(127), 23).AsSingle();
}
