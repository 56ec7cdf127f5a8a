// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Runtime;

public sealed class ComputeTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    public void ResolveDevice_CpuNames_GiveTheCpu(string? name) =>
        Assert.Equal(DeviceType.CPU, Compute.ResolveDevice(name).type);

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void ResolveDevice_RejectsUnknownNames_WithTheValidOnes(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => Compute.ResolveDevice(name));
        Assert.Contains($"'{name}'", error.Message);
        Assert.Contains("cuda", error.Message);
    }

    [Fact]
    public void ResolveDevice_Cuda_FailsClearly_WhenNoGpuIsThere()
    {
        if (cuda.is_available())
        {
            Assert.Equal(DeviceType.CUDA, Compute.ResolveDevice("cuda").type);
            return;
        }
        var error = Assert.Throws<ArgumentException>(() => Compute.ResolveDevice("cuda"));
        Assert.Contains("NORMNB_DEVICE='cuda'", error.Message);
    }

    [Fact]
    public void Seed_MakesRandomDrawsRepeat()
    {
        Compute.Seed(1234);
        using var first = randn(5, 7);
        Compute.Seed(1234);
        using var second = randn(5, 7);
        Compute.Seed(1235);
        using var third = randn(5, 7);
        Assert.True(first.allclose(second, rtol: 0, atol: 0));
        Assert.False(first.allclose(third, rtol: 0, atol: 0));
    }

    [Fact]
    public void SetThreads_ChangesLibTorchsThreadCount()
    {
        var before = Compute.Threads;
        try
        {
            Compute.SetThreads(1);
            Assert.Equal(1, Compute.Threads);
        }
        finally
        {
            Compute.SetThreads(before);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Compute.SetThreads(0));
    }

    [Fact]
    public void Describe_ReportsVersionsAndTheLoadRoute()
    {
        var info = Compute.Describe();
        Assert.Equal(torch.__version__, info.LibTorch);
        Assert.StartsWith("0.107.0", info.TorchSharp);
        Assert.True(info.LogicalCores >= 1);
        Assert.True(info.Threads >= 1);
        Assert.Equal(TorchRuntime.EnsureLoaded(), info.NativeLoad);
    }
}
