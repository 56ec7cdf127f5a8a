// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace NormNotebooks.Runtime;

/// <summary>
/// Keeps freed tensor memory in the process instead of handing it back to the kernel, on Linux with glibc (libtorch's CPU tensors come
/// from glibc's malloc). By default glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh <c>mmap</c> and
/// returns it on free, and trims the top of its heap once 128 KiB–64 MiB are free there; the next tensor of that size then pays a
/// page fault on first touch: on this project's virtual machines about 6.5 µs per 4 KiB; writing a fresh
/// 64 MiB tensor took 107 ms against 1.2 ms for a recycled one, and libtorch's own <c>layer_norm</c> forward+backward on
/// [4096, 4096] ran in 230 ms by default and in 12.5 ms with both limits raised (two runs of one program, without and with).
/// At library start this raises both the mmap threshold and the trim threshold to 1 GiB (<c>mallopt</c>), so blocks up to 1 GiB are
/// recycled; the cost is that the process keeps its peak heap (the free part is reused, not returned). <c>NORMNB_MALLOC=system</c>
/// leaves glibc's defaults.
/// The thresholds reach only blocks in glibc's main arena: other threads get arenas of their own, whose heaps hold at most
/// 64 MiB, and a larger block allocated on such a thread (every notebook cell runs on one) is still mapped fresh each time. glibc
/// reads the remedy, <c>GLIBC_TUNABLES=glibc.malloc.arena_max=1</c>, only at process start: <c>normnb run</c> starts notebook
/// processes with it and <see cref="State"/> says whether this process has it.
/// </summary>
public static unsafe class NativeHeap
{
    /// <summary>The environment variable: <c>system</c> keeps glibc's defaults; unset or <c>keep</c> keeps freed memory.</summary>
    public const string EnvironmentVariable = "NORMNB_MALLOC";

    /// <summary>The thresholds set (bytes).</summary>
    public const int Threshold = 1 << 30;

    private const int TrimThreshold = -1;    // M_TRIM_THRESHOLD
    private const int MmapThreshold = -3;    // M_MMAP_THRESHOLD

    /// <summary>What was done, for reports: e.g. "glibc: freed blocks up to 1 GiB kept (NORMNB_MALLOC=system to undo)".</summary>
    public static string State { get; private set; } = "not configured";

    internal static void Configure() => State = Configure(Environment.GetEnvironmentVariable(EnvironmentVariable));

    internal static string Configure(string? setting)
    {
        if (setting == "system")
            return $"system defaults ({EnvironmentVariable}=system)";
        if (setting is not (null or "" or "keep"))
            return $"system defaults: {EnvironmentVariable}='{setting}' not understood (use keep or system)";
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "mallopt", out var export))
            return "system defaults (not glibc)";
        var mallopt = (delegate* unmanaged<int, int, int>)export;
        if (mallopt(MmapThreshold, Threshold) != 1 || mallopt(TrimThreshold, Threshold) != 1)
            return "system defaults (glibc refused the thresholds)";
        var oneArena = (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Split(':').Contains("glibc.malloc.arena_max=1");
        return $"glibc: freed blocks up to 1 GiB kept ({EnvironmentVariable}=system to undo); "
            + (oneArena ? "one arena for all threads" : "per-thread arenas: blocks over 64 MiB allocated off the main thread are not kept (GLIBC_TUNABLES=glibc.malloc.arena_max=1 at start)");
    }
}
