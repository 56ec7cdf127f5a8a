// SPDX-License-Identifier: MIT
using System.Runtime.Intrinsics;
using NormNotebooks.Kernels;

namespace NormNotebooks.Tests.Support;

/// <summary>Runs kernel tests at each SIMD width the kernels have: 512 bits (where the CPU accelerates it) and 256 bits.</summary>
internal static class KernelWidths
{
    private static readonly Lock Switching = new();

    /// <summary>Runs <paramref name="body"/> with the kernels at 512 bits (<paramref name="wide"/>; skipped where the CPU lacks
    /// accelerated 512-bit vectors) or 256 bits. Other tests running meanwhile stay correct at either width.</summary>
    public static void At(bool wide, Action body)
    {
        if (wide && !Vector512.IsHardwareAccelerated)
            return;
        lock (Switching)
        {
            var before = Simd.Use512;
            try
            {
                Simd.Use512 = wide;
                body();
            }
            finally
            {
                Simd.Use512 = before;
            }
        }
    }
}
