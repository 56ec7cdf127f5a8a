// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace NormNotebooks.Runtime;

/// <summary>
/// Page faults of the calling thread (Linux <c>getrusage(RUSAGE_THREAD)</c>: minor + major). A timing that includes them measures
/// the kernel mapping fresh memory as much as the code: on this project's virtual machines each fault of a 4 KiB page costs about
/// 6.5–13 µs, so a fresh 256 MiB output adds 0.4–0.9 s. Benchmarks count them per action to say when that happened.
/// </summary>
public static partial class PageFaults
{
    private const int RusageThread = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, Ixrss, Idrss, Isrss, MinorFaults, MajorFaults, Swaps, InBlock, OutBlock, MessagesSent, MessagesReceived, Signals,
            VoluntarySwitches, InvoluntarySwitches;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);

    /// <summary>Whether <see cref="ThisThread"/> can count (Linux).</summary>
    public static bool Available { get; } = OperatingSystem.IsLinux() && Probe();

    /// <summary>Page faults (minor + major) of the calling thread since it started; 0 where <see cref="Available"/> is false.</summary>
    public static long ThisThread() => Available && GetRusage(RusageThread, out var usage) == 0 ? usage.MinorFaults + usage.MajorFaults : 0;

    private static bool Probe()
    {
        try
        {
            return GetRusage(RusageThread, out _) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }
}
