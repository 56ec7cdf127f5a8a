// SPDX-License-Identifier: MIT
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace NormNotebooks.Runtime;

/// <summary>How the native TorchSharp library was made loadable in this process.</summary>
/// <param name="Path">Which route was taken: <c>patched-copy</c>, <c>package</c> (system libstdc++ new enough) or <c>not-linux</c>.</param>
/// <param name="LibTorchSharp">Full path of the <c>libLibTorchSharp</c> actually loaded, or null when TorchSharp's own probing loads it.</param>
/// <param name="LibTorchDirectory">The folder libtorch was preloaded from, or null.</param>
/// <param name="Detail">One human-readable sentence on why.</param>
public sealed record NativeLoadReport(string Path, string? LibTorchSharp, string? LibTorchDirectory, string Detail);

/// <summary>
/// Makes TorchSharp 0.107 load on Linux systems whose libstdc++ predates GCC 13 (Debian 12), and
/// nothing else.
/// </summary>
/// <remarks>
/// <para><c>libLibTorchSharp.so</c> 0.107.0 needs the symbol version <c>GLIBCXX_3.4.32</c> only for
/// <c>std::ios_base_library_init()</c>, which it references but never calls (no relocation uses it).
/// When the process's libstdc++ lacks that version, we write a copy of the library into a per-user
/// cache folder with that single version-needed entry marked <c>VER_FLG_WEAK</c>
/// (<see cref="ElfVersionNeeds"/>), preload libtorch's own libraries from the package by full path
/// (the copy's <c>$ORIGIN</c> run-path no longer points at them), and hand the copy's handle to
/// TorchSharp through <see cref="NativeLibrary.SetDllImportResolver"/>. Files in the NuGet cache and
/// in <c>bin/</c> are never modified.</para>
/// <para>Entry points: the library's module initializer registers the resolver as soon as any
/// NormNotebooks type is touched; the patch itself runs lazily on TorchSharp's first native call, or
/// eagerly through <see cref="EnsureLoaded"/>. Notebooks touch NormNotebooks (<c>Setup.Run</c>) before
/// TorchSharp; code that calls TorchSharp before any NormNotebooks type must call
/// <see cref="EnsureLoaded"/> first.</para>
/// </remarks>
public static class TorchRuntime
{
    private const string NativeName = "LibTorchSharp";
    private const string MissingVersion = "GLIBCXX_3.4.32";
    private const string StdCxx = "libstdc++.so.6";

    // libtorch's libraries in dependency order; missing ones are skipped (the CPU package has no CUDA ones).
    private static readonly string[] LibTorchPreloadOrder =
        ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];

    private static readonly Lock Gate = new();
    private static NativeLoadReport? _report;
    private static IntPtr _handle;
    private static Exception? _failure;
    private static bool _resolverRegistered;

    /// <summary>The report of the load, once <see cref="EnsureLoaded"/> or TorchSharp's first call has run.</summary>
    public static NativeLoadReport? Report => _report;

    /// <summary>Called by the library's initializer (<see cref="LibraryInitializer"/>): the resolver must exist before TorchSharp's first P/Invoke.</summary>
    internal static void RegisterResolver()
    {
        if (!OperatingSystem.IsLinux())
            return;
        lock (Gate)
        {
            if (_resolverRegistered)
                return;
            try
            {
                NativeLibrary.SetDllImportResolver(TorchSharpAssembly(), Resolve);
                // Our kernels call one export of the same library (Kernels/TensorMemory.cs): the same handle serves both.
                NativeLibrary.SetDllImportResolver(typeof(TorchRuntime).Assembly, Resolve);
                _resolverRegistered = true;
            }
            catch (InvalidOperationException)
            {
                // Another component registered a resolver for TorchSharp first; EnsureLoaded reports it.
                return;
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException)
            {
                // TorchSharp is not there (a notebook that uses only the charts or the fitters): nothing to prepare, and the library
                // must still load. The first tensor call names the missing package.
                return;
            }
            // Load now, not at the first DllImport: TorchSharp's static initialiser probes explicit paths itself and refuses to start
            // unless LibTorchSharp is already loaded, so code whose first torch call is, say, FashionMnistSplit.ToTensors() would fail.
            // Failures are recorded (not thrown) and reported by EnsureLoaded or the first native call.
            if (_report is null && _failure is null)
                Prepare();
        }
    }

    // Its own method, not inlined: naming TorchSharp's type in RegisterResolver would load TorchSharp when that method is compiled,
    // before its catch can run.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Assembly TorchSharpAssembly() => typeof(torch).Assembly;

    /// <summary>
    /// Prepares (if needed) and loads the native TorchSharp library now, and returns how it was done.
    /// Idempotent and thread-safe; throws an exception that names the file and the reason on failure.
    /// </summary>
    public static NativeLoadReport EnsureLoaded()
    {
        RegisterResolver();
        lock (Gate)
        {
            if (_report is null && _failure is null)
                Prepare();
            if (_failure is not null)
                throw new InvalidOperationException(_failure.Message, _failure);
        }
        // Touch TorchSharp so its static initialiser runs through our resolver now, not mid-experiment.
        _ = torch.__version__;
        return _report!;
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != NativeName)
            return IntPtr.Zero;
        lock (Gate)
        {
            if (_report is null && _failure is null)
                Prepare();
            if (_failure is not null)
                throw new DllNotFoundException(_failure.Message, _failure);
            if (_handle != IntPtr.Zero || assembly == typeof(torch).Assembly)
                return _handle;   // IntPtr.Zero → TorchSharp's default probing, when no patch was needed
        }
        // No patch was needed: our kernels get the library TorchSharp's own probing finds (already loaded, so the same one).
        return NativeLibrary.TryLoad(libraryName, typeof(torch).Assembly, searchPath, out var loaded) ? loaded : IntPtr.Zero;
    }

    private static void Prepare()
    {
        try
        {
            _report = PrepareCore();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or DllNotFoundException or BadImageFormatException)
        {
            _failure = e;
        }
    }

    private static NativeLoadReport PrepareCore()
    {
        if (!OperatingSystem.IsLinux())
            return new NativeLoadReport("not-linux", null, null, "Not Linux: TorchSharp's own loader is used unchanged.");
        if (SystemLibStdCxxHasGlibcxx3432())
            return new NativeLoadReport("package", null, null, $"The system {StdCxx} provides {MissingVersion}: the packaged library loads unchanged.");

        var original = NativeSearch.FindLibTorchSharp()
            ?? throw new DllNotFoundException(
                $"TorchSharp load fix: libLibTorchSharp.so was not found next to TorchSharp.dll, in the app's native search folders, or in the NuGet package folder. Searched: {string.Join(", ", NativeSearch.CandidateFolders())}. Reference the TorchSharp-cpu package (or a libtorch-cuda one).");
        var libTorchDirectory = NativeSearch.FindLibTorchDirectory()
            ?? throw new DllNotFoundException(
                $"TorchSharp load fix: libtorch_cpu.so was not found. Searched: {string.Join(", ", NativeSearch.CandidateFolders())}. Reference TorchSharp-cpu (which brings libtorch-cpu-linux-x64).");

        var patched = WritePatchedCopy(original);
        foreach (var name in LibTorchPreloadOrder)
        {
            var path = System.IO.Path.Combine(libTorchDirectory, name);
            if (File.Exists(path))
                NativeLibrary.Load(path);
        }
        _handle = NativeLibrary.Load(patched);
        return new NativeLoadReport("patched-copy", patched, libTorchDirectory,
            $"The system {StdCxx} lacks {MissingVersion}; loaded a copy of {original} with that version need marked weak.");
    }

    /// <summary>Writes (once per TorchSharp build) the weak-version copy into the user cache and returns its path.</summary>
    internal static string WritePatchedCopy(string original)
    {
        var bytes = File.ReadAllBytes(original);
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        var version = typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown";
        var folder = System.IO.Path.Combine(CacheRoot(), "torchsharp", $"{version}-{key}");
        var target = System.IO.Path.Combine(folder, "libLibTorchSharp.so");
        var patched = ElfVersionNeeds.MarkWeak(bytes, StdCxx, MissingVersion, original);
        if (File.Exists(target) && new FileInfo(target).Length == patched.Length)
            return target;
        Directory.CreateDirectory(folder);
        var temp = target + $".{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, patched);
        File.Move(temp, target, overwrite: true);   // atomic on one file system: concurrent processes never see half a file
        return target;
    }

    /// <summary>The per-user cache root: <c>NORMNB_CACHE</c>, else <c>$XDG_CACHE_HOME/normnotebooks</c>, else <c>~/.cache/normnotebooks</c>.</summary>
    public static string CacheRoot()
    {
        var explicitRoot = Environment.GetEnvironmentVariable("NORMNB_CACHE");
        if (!string.IsNullOrWhiteSpace(explicitRoot))
            return explicitRoot;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseFolder = !string.IsNullOrWhiteSpace(xdg)
            ? xdg
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return System.IO.Path.Combine(baseFolder, "normnotebooks");
    }

    /// <summary>
    /// True when the process's libstdc++ defines <c>std::ios_base_library_init()</c> at version GLIBCXX_3.4.32,
    /// the one symbol (and version) libLibTorchSharp 0.107 needs beyond Debian 12's libstdc++.
    /// </summary>
    [SuppressMessage("Interoperability", "SYSLIB1054", Justification = "dlvsym takes plain C strings; LibraryImport adds nothing here.")]
    public static bool SystemLibStdCxxHasGlibcxx3432()
    {
        if (!NativeLibrary.TryLoad(StdCxx, out var handle))
            return false;
        return dlvsym(handle, "_ZSt21ios_base_library_initv", MissingVersion) != IntPtr.Zero;
    }

    [DllImport("libc.so.6", CharSet = CharSet.Ansi, BestFitMapping = false)]
    private static extern IntPtr dlvsym(IntPtr handle, string symbol, string version);
}
