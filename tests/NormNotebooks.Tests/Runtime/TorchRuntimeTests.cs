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

    [Fact]
    public void LayerNorm_ForwardAndBackward_MatchTheEquationInFloat64()
    {
        // y = (x − μ)/√(σ² + ε) over the last axis; for L = Σ yᵢ·wᵢ the input gradient is
        // ∂L/∂x = (1/σ̂)·(w − mean(w) − ŷ·mean(w·ŷ)) with σ̂ = √(σ² + ε) and ŷ the normalised input.
        using var scope = NewDisposeScope();
        const double eps = 1e-5;
        var generator = new Generator(7);
        var x = (randn([4, 37], dtype: float64, generator: generator) * 3.0 + 1.5).requires_grad_();
        var w = randn([4, 37], dtype: float64, generator: generator);

        var y = nn.functional.layer_norm(x, [37], eps: eps);
        (y * w).sum().backward();

        var mean = x.detach().mean([-1], keepdim: true);
        var sigma = (x.detach() - mean).square().mean([-1], keepdim: true).add(eps).sqrt();
        var expectedY = (x.detach() - mean) / sigma;
        var expectedGrad = (w - w.mean([-1], keepdim: true) - expectedY * (w * expectedY).mean([-1], keepdim: true)) / sigma;

        Tolerances.AssertClose(expectedY, y, Tolerances.Float64, what: "layer_norm forward");
        Tolerances.AssertClose(expectedGrad, x.grad!, Tolerances.Float64, what: "layer_norm input gradient");
    }
}
