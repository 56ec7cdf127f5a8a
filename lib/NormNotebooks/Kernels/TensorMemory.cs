// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>Direct access to a CPU tensor's own memory (no copies), for the C# kernels.</summary>
/// <remarks>The address of the first element is the storage's base pointer plus the tensor's storage offset; contiguity, checked first,
/// makes the next numel() elements the tensor's, in row-major order. The base pointer comes from <c>THSStorage_data_ptr</c>, the exported
/// function of TorchSharp's native library behind the public <see cref="Storage{T}"/>'s <c>data_ptr()</c>, called with the tensor's public
/// <see cref="Tensor.Handle"/>: <c>Tensor.storage&lt;T&gt;()</c> itself cannot serve the kernels, because it has no int8 case and converts
/// (copies) the tensor whenever T differs from its dtype.</remarks>
internal static unsafe partial class TensorMemory
{
    [LibraryImport("LibTorchSharp")]
    private static partial IntPtr THSStorage_data_ptr(IntPtr tensor);

    /// <summary>Whether the kernels can run on <paramref name="t"/> in place: a contiguous float32 CPU tensor.</summary>
    public static bool IsKernelReady(Tensor t) => t.device_type == DeviceType.CPU && t.dtype == ScalarType.Float32 && t.is_contiguous();

    public static float* Float32(Tensor t) => (float*)First(t, ScalarType.Float32);

    public static sbyte* Int8(Tensor t) => (sbyte*)First(t, ScalarType.Int8);

    public static int* Int32(Tensor t) => (int*)First(t, ScalarType.Int32);

    private static byte* First(Tensor t, ScalarType dtype)
    {
        if (t.device_type != DeviceType.CPU || t.dtype != dtype || !t.is_contiguous())
            throw new ArgumentException($"Kernel input must be a contiguous {dtype} CPU tensor, got {t.dtype} on {t.device_type}, contiguous {t.is_contiguous()}, shape [{string.Join(", ", t.shape)}].");
        var storage = THSStorage_data_ptr(t.Handle);
        if (storage == IntPtr.Zero && t.numel() > 0)
            throw new InvalidOperationException($"TorchSharp returned no storage for a {dtype} tensor of shape [{string.Join(", ", t.shape)}].");
        return (byte*)storage + t.storage_offset() * t.ElementSize;
    }
}
