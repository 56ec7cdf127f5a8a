// SPDX-License-Identifier: MIT
using System.Security.Cryptography;
using NormNotebooks.Runtime;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Runtime;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void EnsureLoaded_TakesThePatchExactlyWhenTheSystemLibStdCxxIsTooOld()
    {
        var report = TorchRuntime.EnsureLoaded();
        if (!OperatingSystem.IsLinux())
        {
            Assert.Equal("not-linux", report.Path);
            return;
        }
        // Independent check: the version string appears in the libstdc++ file exactly when it defines that version.
        var libStdCxx = File.ReadLines("/proc/self/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && Path.GetFileName(fields[5]).StartsWith("libstdc++.so", StringComparison.Ordinal))
            .Select(fields => fields[5]).First();
        var fileDefinesIt = File.ReadAllBytes(libStdCxx).AsSpan().IndexOf("GLIBCXX_3.4.32\0"u8) >= 0;
        Assert.Equal(fileDefinesIt, TorchRuntime.SystemLibStdCxxHasGlibcxx3432());
        Assert.Equal(fileDefinesIt ? "package" : "patched-copy", report.Path);
        Assert.Equal("2.10.0.0", torch.__version__);
    }

    [Fact]
    public void PatchedCopy_LivesInTheUserCache_AndLeavesThePackageFileUntouched()
    {
        var report = TorchRuntime.EnsureLoaded();
        if (report.Path != "patched-copy")
            return;   // nothing was patched on this system; the test above asserts that choice
        var patched = report.LibTorchSharp!;
        Assert.StartsWith(TorchRuntime.CacheRoot(), patched);
        var original = NativeSearch.FindLibTorchSharp()!;
        var originalNeed = ElfVersionNeeds.Read(File.ReadAllBytes(original), original).Single(n => n.Name == "GLIBCXX_3.4.32");
        var patchedNeed = ElfVersionNeeds.Read(File.ReadAllBytes(patched), patched).Single(n => n.Name == "GLIBCXX_3.4.32");
        Assert.False(originalNeed.IsWeak);
        Assert.True(patchedNeed.IsWeak);
    }

    [Fact]
    public void WritePatchedCopy_IsIdempotent()
    {
        var original = NativeSearch.FindLibTorchSharp()!;
        var first = TorchRuntime.WritePatchedCopy(original);
        var hash = SHA256.HashData(File.ReadAllBytes(first));
        var second = TorchRuntime.WritePatchedCopy(original);
        Assert.Equal(first, second);
        Assert.Equal(hash, SHA256.HashData(File.ReadAllBytes(second)));
    }
}
