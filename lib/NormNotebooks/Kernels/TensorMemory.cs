// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>Direct access to a CPU tensor's own memory (no copies), for the C# kernels.</summary>
internal static unsafe class TensorMemory
{
    // TorchSharp's accessor holds the native data pointer (THSTensor_data, storage offset included) in this field.
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_tensor_data_ptr")]
    private static extern ref IntPtr DataPointer(TensorAccessor<float> accessor);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_tensor_data_ptr")]
    private static extern ref IntPtr DataPointer(TensorAccessor<sbyte> accessor);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_tensor_data_ptr")]
    private static extern ref IntPtr DataPointer(TensorAccessor<int> accessor);

    /// <summary>Whether the kernels can run on <paramref name="t"/> in place: a contiguous float32 CPU tensor.</summary>
    public static bool IsKernelReady(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous();

    public static float* Float32(Tensor t)
    {
        Require(t, ScalarType.Float32);
        using var accessor = t.data<float>();
        return (float*)DataPointer(accessor);
    }

    public static sbyte* Int8(Tensor t)
    {
        Require(t, ScalarType.Int8);
        using var accessor = t.data<sbyte>();
        return (sbyte*)DataPointer(accessor);
    }

    public static int* Int32(Tensor t)
    {
        Require(t, ScalarType.Int32);
        using var accessor = t.data<int>();
        return (int*)DataPointer(accessor);
    }

    private static void Require(Tensor t, ScalarType dtype)
    {
        if (t.device_type != DeviceType.CPU || t.dtype != dtype || !t.is_contiguous())
            throw new ArgumentException($"Kernel input must be a contiguous {dtype} CPU tensor, got {t.dtype} on {t.device_type}, contiguous {t.is_contiguous()}, shape [{string.Join(", ", t.shape)}].");
    }
}

/// <summary>Splits rows across threads: one contiguous range per worker.</summary>
internal static class Rows
{
    /// <summary>Runs <paramref name="body"/>(first, end, worker) over [0, rows) in at most <paramref name="threads"/> ranges.</summary>
    public static void Split(long rows, int threads, Action<long, long, int> body)
    {
        var workers = (int)Math.Max(1, Math.Min(threads, rows));
        if (workers == 1)
        {
            body(0, rows, 0);
            return;
        }
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
            body(rows * w / workers, rows * (w + 1) / workers, w));
    }
}
