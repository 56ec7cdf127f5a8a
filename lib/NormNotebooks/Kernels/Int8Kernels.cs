// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>
/// LLM.int8() building blocks (Dettmers, Lewis, Belkada &amp; Zettlemoyer, NeurIPS 2022, arXiv:2208.07339): vector-wise absmax
/// quantization to int8 (a scale per row of the activations and per output row of the weight), an int8 × int8 → int32 matrix
/// product, dequantization by the outer product of the scales, and the mixed-precision decomposition that keeps the feature columns
/// holding any |x| ≥ threshold (default 6.0) in float32.
/// </summary>
/// <remarks>The product is C = X·Wᵀ with X [m, k] and W [n, k] (a linear layer's weight layout), so both operands are read along k.
/// The int32 kernel widens int8 to int16 once (packing) and multiplies with <c>vpmaddwd</c> (AVX-512BW, 32 multiply-adds per
/// instruction; AVX2 otherwise) on 4×4 output tiles; AVX-512 VNNI is not reachable from .NET on this CPU (only the VEX AVX-VNNI
/// encoding is exposed), so int8 arithmetic runs at twice fp32 FMA density at best, not four times.</remarks>
public static unsafe class Int8Kernels
{
    /// <summary>Worker threads (default: the norm kernels' setting).</summary>
    public static int Threads
    {
        get => _threads ?? NormKernels.Threads;
        set => _threads = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be positive.");
    }

    private static int? _threads;

    /// <summary>The instruction set the int32 kernel uses here.</summary>
    public static string Isa => Avx512BW.IsSupported ? "AVX-512BW vpmaddwd" : Avx2.IsSupported ? "AVX2 vpmaddwd" : "scalar";

    /// <summary>Row-wise absmax quantization: q[r, j] = round(127·x[r, j]/max_j |x[r, j]|), scale[r] = max/127 (1 for an all-zero row).</summary>
    public static void QuantizeRows(float* x, sbyte* q, float* scale, long rows, int cols)
    {
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            for (var r = first; r < end; r++)
            {
                var xr = x + r * cols;
                var qr = q + r * cols;
                var vmax = Vector256<float>.Zero;
                var j = 0;
                for (; j <= cols - 8; j += 8)
                    vmax = Vector256.Max(vmax, Vector256.Abs(Vector256.Load(xr + j)));
                var max = 0f;
                for (var lane = 0; lane < 8; lane++)
                    max = MathF.Max(max, vmax.GetElement(lane));
                for (; j < cols; j++)
                    max = MathF.Max(max, MathF.Abs(xr[j]));
                var s = max > 0 ? max / 127f : 1f;
                scale[r] = s;
                var inverse = Vector256.Create(1f / s);
                j = 0;
                for (; j <= cols - 8; j += 8)
                {
                    // |x·127/max| ≤ 127 up to rounding: clamp, round to nearest even (as MathF.Round), convert, store 8 bytes.
                    var v = Vector256.Round(Vector256.Clamp(Vector256.Load(xr + j) * inverse, Vector256.Create(-127f), Vector256.Create(127f)));
                    var ints = Vector256.ConvertToInt32(v);
                    for (var lane = 0; lane < 8; lane++)
                        qr[j + lane] = (sbyte)ints.GetElement(lane);
                }
                for (; j < cols; j++)
                    qr[j] = (sbyte)Math.Clamp(MathF.Round(xr[j] / s), -127, 127);
            }
        });
    }

    /// <summary>C[m, n] = Σ_k a[i, k]·b[j, k] exactly in int32, for int8 a [m, k] and b [n, k].</summary>
    public static void MatmulInt32(sbyte* a, sbyte* b, int* c, int m, int n, int k)
    {
        var kp = (k + 31) / 32 * 32;                       // pad k to whole 512-bit int16 vectors
        var aw = Widen(a, m, k, kp);
        var bw = Widen(b, n, k, kp);
        try
        {
            var pa = (short*)aw;
            var pb = (short*)bw;
            const int blockN = 64;                           // 64 rows of b (64·k·2 bytes) stay in L2 while 4-row strips of a pass
            Rows.Split((m + 3) / 4, Threads, (firstStrip, endStrip, _) =>
            {
                for (var j0 = 0; j0 < n; j0 += blockN)
                {
                    var j1 = Math.Min(n, j0 + blockN);
                    for (var strip = firstStrip; strip < endStrip; strip++)
                    {
                        var i0 = (int)strip * 4;
                        var rowsHere = Math.Min(4, m - i0);
                        for (var j = j0; j < j1; j += 4)
                        {
                            var colsHere = Math.Min(4, j1 - j);
                            if (rowsHere == 4 && colsHere == 4 && Avx512BW.IsSupported)
                                Tile4x4(pa + (long)i0 * kp, pb + (long)j * kp, kp, c + (long)i0 * n + j, n);
                            else
                                TileScalar(pa + (long)i0 * kp, pb + (long)j * kp, kp, c + (long)i0 * n + j, n, rowsHere, colsHere);
                        }
                    }
                }
            });
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(aw);
            System.Runtime.InteropServices.NativeMemory.AlignedFree(bw);
        }
    }

    // int8 [rows, k] → int16 [rows, kp], zero-padded, 64-byte aligned.
    private static void* Widen(sbyte* source, int rows, int k, int kp)
    {
        var target = (short*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)((long)rows * kp * sizeof(short)), 64);
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            for (var r = first; r < end; r++)
            {
                var s = source + r * k;
                var t = target + r * kp;
                for (var j = 0; j < k; j++)
                    t[j] = s[j];
                for (var j = k; j < kp; j++)
                    t[j] = 0;
            }
        });
        return target;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(short* a, short* b, int kp, int* c, int ldc)
    {
        Vector512<int> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<int> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        for (var p = 0; p < kp; p += 32)
        {
            var b0 = Vector512.Load(b + p);
            var b1 = Vector512.Load(b + kp + p);
            var b2 = Vector512.Load(b + 2 * kp + p);
            var b3 = Vector512.Load(b + 3 * kp + p);
            var a0 = Vector512.Load(a + p);
            c00 += Avx512BW.MultiplyAddAdjacent(a0, b0); c01 += Avx512BW.MultiplyAddAdjacent(a0, b1);
            c02 += Avx512BW.MultiplyAddAdjacent(a0, b2); c03 += Avx512BW.MultiplyAddAdjacent(a0, b3);
            var a1 = Vector512.Load(a + kp + p);
            c10 += Avx512BW.MultiplyAddAdjacent(a1, b0); c11 += Avx512BW.MultiplyAddAdjacent(a1, b1);
            c12 += Avx512BW.MultiplyAddAdjacent(a1, b2); c13 += Avx512BW.MultiplyAddAdjacent(a1, b3);
            var a2 = Vector512.Load(a + 2 * kp + p);
            c20 += Avx512BW.MultiplyAddAdjacent(a2, b0); c21 += Avx512BW.MultiplyAddAdjacent(a2, b1);
            c22 += Avx512BW.MultiplyAddAdjacent(a2, b2); c23 += Avx512BW.MultiplyAddAdjacent(a2, b3);
            var a3 = Vector512.Load(a + 3 * kp + p);
            c30 += Avx512BW.MultiplyAddAdjacent(a3, b0); c31 += Avx512BW.MultiplyAddAdjacent(a3, b1);
            c32 += Avx512BW.MultiplyAddAdjacent(a3, b2); c33 += Avx512BW.MultiplyAddAdjacent(a3, b3);
        }
        c[0] = Vector512.Sum(c00); c[1] = Vector512.Sum(c01); c[2] = Vector512.Sum(c02); c[3] = Vector512.Sum(c03);
        c[ldc] = Vector512.Sum(c10); c[ldc + 1] = Vector512.Sum(c11); c[ldc + 2] = Vector512.Sum(c12); c[ldc + 3] = Vector512.Sum(c13);
        c[2 * ldc] = Vector512.Sum(c20); c[2 * ldc + 1] = Vector512.Sum(c21); c[2 * ldc + 2] = Vector512.Sum(c22); c[2 * ldc + 3] = Vector512.Sum(c23);
        c[3 * ldc] = Vector512.Sum(c30); c[3 * ldc + 1] = Vector512.Sum(c31); c[3 * ldc + 2] = Vector512.Sum(c32); c[3 * ldc + 3] = Vector512.Sum(c33);
    }

    private static void TileScalar(short* a, short* b, int kp, int* c, int ldc, int rows, int cols)
    {
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
            {
                var ar = a + (long)i * kp;
                var br = b + (long)j * kp;
                var acc = 0;
                var p = 0;
                if (Avx2.IsSupported)
                {
                    var v = Vector256<int>.Zero;
                    for (; p <= kp - 16; p += 16)
                        v += Avx2.MultiplyAddAdjacent(Vector256.Load(ar + p), Vector256.Load(br + p));
                    acc = Vector256.Sum(v);
                }
                for (; p < kp; p++)
                    acc += ar[p] * br[p];
                c[i * ldc + j] = acc;
            }
    }
}

/// <summary>Tensor-level LLM.int8(): quantize, multiply, dequantize, with the outlier decomposition.</summary>
public static unsafe class Int8Matmul
{
    /// <summary>Vector-wise quantization of the rows of a contiguous float32 matrix [rows, cols]: int8 values and a float32 scale per row.</summary>
    public static (Tensor Values, Tensor Scales) QuantizeRows(Tensor x)
    {
        Require(x, nameof(x));
        var (rows, cols) = (x.shape[0], (int)x.shape[1]);
        var q = empty(rows, cols, dtype: ScalarType.Int8);
        var scale = empty(rows, dtype: ScalarType.Float32);
        Int8Kernels.QuantizeRows(TensorMemory.Float32(x), TensorMemory.Int8(q), TensorMemory.Float32(scale), rows, cols);
        return (q, scale);
    }

    /// <summary>Exact int32 product of int8 matrices a [m, k] and b [n, k]: a·bᵀ.</summary>
    public static Tensor Int32Product(Tensor a, Tensor b)
    {
        if (a.dtype != ScalarType.Int8 || b.dtype != ScalarType.Int8 || a.dim() != 2 || b.dim() != 2 || a.shape[1] != b.shape[1] || !a.is_contiguous() || !b.is_contiguous())
            throw new ArgumentException($"Int32Product needs contiguous int8 matrices [m, k] and [n, k]; got {a.dtype} [{string.Join(", ", a.shape)}] and {b.dtype} [{string.Join(", ", b.shape)}].");
        var c = empty(a.shape[0], b.shape[0], dtype: ScalarType.Int32);
        Int8Kernels.MatmulInt32(TensorMemory.Int8(a), TensorMemory.Int8(b), TensorMemory.Int32(c), (int)a.shape[0], (int)b.shape[0], (int)a.shape[1]);
        return c;
    }

    /// <summary>X·Wᵀ with both operands quantized vector-wise to int8 (no decomposition).</summary>
    public static Tensor Quantized(Tensor x, Tensor w)
    {
        using var scope = NewDisposeScope();
        var (qx, sx) = QuantizeRows(x);
        var (qw, sw) = QuantizeRows(w);
        return (Int32Product(qx, qw).to(ScalarType.Float32) * sx.unsqueeze(1) * sw.unsqueeze(0)).MoveToOuterDisposeScope();
    }

    /// <summary>A weight [n, k] prepared once for LLM.int8 inference: int8 rows with their scales, and the float32 original for outlier columns.</summary>
    public sealed record QuantizedWeight(Tensor Values, Tensor Scales, Tensor Float);

    /// <summary>Quantizes <paramref name="w"/> [n, k] row-wise (each output row over all k), as LLM.int8 does once per layer.</summary>
    public static QuantizedWeight PrepareWeight(Tensor w)
    {
        Require(w, nameof(w));
        var (values, scales) = QuantizeRows(w);
        return new QuantizedWeight(values, scales, w);
    }

    /// <summary>LLM.int8(): the feature columns of X with any |x| ≥ <paramref name="threshold"/> multiply W's float32 columns; the rest of X is
    /// quantized row-wise (over its non-outlier columns) and multiplies W's int8 rows.</summary>
    /// <returns>The product and the number of outlier columns kept in float32.</returns>
    public static (Tensor Product, int OutlierColumns) Decomposed(Tensor x, QuantizedWeight w, double threshold = 6.0)
    {
        ArgumentNullException.ThrowIfNull(w);
        Require(x, nameof(x));
        if (x.shape[1] != w.Values.shape[1])
            throw new ArgumentException($"Int8Matmul: X [m, k] and W [n, k] must share k; got [{string.Join(", ", x.shape)}] and [{string.Join(", ", w.Values.shape)}].");
        using var scope = NewDisposeScope();
        var outlier = x.abs().ge(threshold).any(0);
        var outliers = outlier.nonzero().flatten();
        var count = (int)outliers.shape[0];
        if (count == x.shape[1])
            return (x.matmul(w.Float.t()).MoveToOuterDisposeScope(), count);
        // Zeroing the outlier columns keeps k's layout, so W's int8 rows are used as prepared (their columns meet zeros there).
        var normal = count == 0 ? x : x.index_fill(1, outliers, 0).contiguous();
        var (qx, sx) = QuantizeRows(normal);
        var product = Int32Product(qx, w.Values).to(ScalarType.Float32).mul_(sx.unsqueeze(1)).mul_(w.Scales.unsqueeze(0));
        if (count > 0)
            product.add_(x.index_select(1, outliers).matmul(w.Float.index_select(1, outliers).t()));
        return (product.MoveToOuterDisposeScope(), count);
    }

    /// <summary>LLM.int8() with the weight quantized on the fly (see <see cref="PrepareWeight"/> to do it once).</summary>
    public static (Tensor Product, int OutlierColumns) Decomposed(Tensor x, Tensor w, double threshold = 6.0)
    {
        using var scope = NewDisposeScope();
        var (product, count) = Decomposed(x, PrepareWeight(w), threshold);
        return (product.MoveToOuterDisposeScope(), count);
    }

    private static void Require(Tensor t, string name)
    {
        if (!TensorMemory.IsKernelReady(t) || t.dim() != 2)
            throw new ArgumentException($"Int8Matmul: {name} must be a contiguous float32 CPU matrix, got {t.dtype} [{string.Join(", ", t.shape)}].", name);
    }
}
