// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;

namespace NormNotebooks.Tests.Runtime;

/// <summary>The native heap's settings: applied at library start on glibc, left alone when asked, bad values named.</summary>
public sealed class NativeHeapTests
{
    [Fact]
    public void AtLibraryStart_GlibcKeepsFreedBlocks_UnlessTheEnvironmentSaysSystem()
    {
        var expected = Environment.GetEnvironmentVariable(NativeHeap.EnvironmentVariable) == "system" ? "system defaults" : OperatingSystem.IsLinux() ? "glibc: freed blocks up to 1 GiB kept" : "system defaults";
        Assert.StartsWith(expected, NativeHeap.State);
        Assert.Equal(NativeHeap.State, Compute.Describe().NativeHeap);
    }

    [Fact]
    public void Settings_SystemLeavesTheDefaults_AndUnknownValuesAreNamed()
    {
        Assert.Equal("system defaults (NORMNB_MALLOC=system)", NativeHeap.Configure("system"));
        Assert.Contains("NORMNB_MALLOC='fast' not understood (use keep or system)", NativeHeap.Configure("fast"));
        if (OperatingSystem.IsLinux())
            Assert.StartsWith("glibc: freed blocks up to 1 GiB kept", NativeHeap.Configure("keep"));
    }
}
