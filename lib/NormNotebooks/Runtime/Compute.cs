// SPDX-License-Identifier: MIT
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Runtime;

/// <summary>What this process computes on, and with which library versions.</summary>
/// <param name="NormNotebooks">This library's informational version.</param>
/// <param name="TorchSharp">TorchSharp's assembly version.</param>
/// <param name="LibTorch">libtorch's version as TorchSharp reports it.</param>
/// <param name="DotNet">The .NET runtime description.</param>
/// <param name="Os">The operating system description.</param>
/// <param name="Cpu">The CPU model (from /proc/cpuinfo on Linux), or the architecture.</param>
/// <param name="LogicalCores">Logical processors visible to the process.</param>
/// <param name="Threads">libtorch's intra-op thread count.</param>
/// <param name="Device">The default device for experiments (<see cref="Compute.Device"/>).</param>
/// <param name="CudaAvailable">Whether libtorch sees a CUDA device.</param>
/// <param name="NativeLoad">How libLibTorchSharp was loaded.</param>
/// <param name="NativeHeap">How the native heap recycles tensor memory (<see cref="Runtime.NativeHeap"/>).</param>
public sealed record EnvironmentInfo(
    string NormNotebooks, string TorchSharp, string LibTorch, string DotNet, string Os, string Cpu,
    int LogicalCores, int Threads, string Device, bool CudaAvailable, NativeLoadReport NativeLoad, string NativeHeap);

/// <summary>Device choice, seeding and thread control for experiments.</summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>NORMNB_DEVICE</c> = <c>cpu</c> (default) | <c>cuda</c> | <c>cuda:N</c>. Asking for CUDA where libtorch has
/// no CUDA backend or sees no GPU is an error, never a silent fall-back to CPU.</item>
/// <item><c>NORMNB_THREADS</c> = N sets libtorch's intra-op threads at start-up (default: libtorch's own, one per core).</item>
/// <item><see cref="Seed"/> seeds libtorch's CPU and CUDA generators; CPU runs with the same seed and thread
/// count reproduce bit for bit.</item>
/// </list>
/// </remarks>
public static class Compute
{
    private static readonly Lazy<Device> DefaultDevice = new(() => ResolveDevice(Environment.GetEnvironmentVariable("NORMNB_DEVICE")));
    private static int _threadsApplied;

    /// <summary>The device experiments use, from <c>NORMNB_DEVICE</c>.</summary>
    public static Device Device
    {
        get
        {
            EnsureReady();
            return DefaultDevice.Value;
        }
    }

    /// <summary>Parses a device name (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>; null or empty means CPU) and checks it is usable.</summary>
    /// <exception cref="ArgumentException">Unknown name, or CUDA asked for and not available.</exception>
    public static Device ResolveDevice(string? name)
    {
        EnsureReady();
        var text = string.IsNullOrWhiteSpace(name) ? "cpu" : name.Trim().ToLowerInvariant();
        if (text == "cpu")
            return CPU;
        if (text == "cuda" || text.StartsWith("cuda:", StringComparison.Ordinal))
        {
            var index = text == "cuda" ? 0 : int.TryParse(text.AsSpan(5), out var parsed) && parsed >= 0 ? parsed
                : throw new ArgumentException($"NORMNB_DEVICE='{name}': the CUDA index must be a non-negative integer, as in 'cuda:0'.", nameof(name));
            try
            {
                InitializeDeviceType(DeviceType.CUDA);
            }
            catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or NotSupportedException)
            {
                throw new ArgumentException($"NORMNB_DEVICE='{name}': libtorch has no CUDA backend here ({e.Message}). Reference a libtorch-cuda package instead of TorchSharp-cpu, or use 'cpu'.", nameof(name), e);
            }
            if (!cuda.is_available() || index >= cuda.device_count())
                throw new ArgumentException($"NORMNB_DEVICE='{name}': libtorch sees {(cuda.is_available() ? cuda.device_count() : 0)} CUDA device(s). Use 'cpu' or a valid index.", nameof(name));
            return new Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"NORMNB_DEVICE='{name}' is not a device; use 'cpu', 'cuda' or 'cuda:N'.", nameof(name));
    }

    /// <summary>Seeds libtorch's generators (CPU, and every CUDA device when present).</summary>
    public static void Seed(long seed)
    {
        EnsureReady();
        manual_seed(seed);
        if (cuda.is_available())
            cuda.manual_seed_all(seed);
    }

    /// <summary>libtorch's intra-op thread count.</summary>
    public static int Threads
    {
        get
        {
            EnsureReady();
            return get_num_threads();
        }
    }

    /// <summary>Sets libtorch's intra-op thread count.</summary>
    public static void SetThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        TorchRuntime.EnsureLoaded();
        set_num_threads(threads);
    }

    /// <summary>Describes versions, CPU, threads, device and the native-load route.</summary>
    public static EnvironmentInfo Describe()
    {
        var report = EnsureReady();
        return new EnvironmentInfo(
            NormNotebooks: typeof(Compute).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            TorchSharp: typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown",
            LibTorch: __version__,
            DotNet: System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            Os: System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            Cpu: CpuModel(),
            LogicalCores: Environment.ProcessorCount,
            Threads: get_num_threads(),
            Device: DefaultDevice.Value.ToString(),
            CudaAvailable: cuda.is_available(),
            NativeLoad: report,
            NativeHeap: Runtime.NativeHeap.State);
    }

    private static NativeLoadReport EnsureReady()
    {
        var report = TorchRuntime.EnsureLoaded();
        if (Interlocked.Exchange(ref _threadsApplied, 1) == 0 && Environment.GetEnvironmentVariable("NORMNB_THREADS") is { Length: > 0 } text)
        {
            if (!int.TryParse(text, out var threads) || threads <= 0)
                throw new ArgumentException($"NORMNB_THREADS='{text}' is not a positive integer.");
            set_num_threads(threads);
        }
        return report;
    }

    private static string CpuModel()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (File.Exists(cpuInfo))
        {
            var line = File.ReadLines(cpuInfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null && line.IndexOf(':') is var colon and > 0)
                return line[(colon + 1)..].Trim();
        }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}
