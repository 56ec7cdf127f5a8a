// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Support;

/// <summary>Seeded inputs with a non-zero mean and a non-unit scale (never all-ones: LayerNorm maps ones to zeros), and the devices to test on.</summary>
internal static class Inputs
{
    public static Tensor Random(long[] shape, ScalarType dtype = ScalarType.Float32, long seed = 1, double mean = 1.5, double scale = 3.0, Device? device = null) =>
        (randn(shape, dtype: dtype, generator: new Generator((ulong)seed)) * scale + mean).to(device ?? CPU);

    /// <summary>CPU, plus the configured CUDA device when NORMNB_DEVICE asks for one and it exists.</summary>
    public static IReadOnlyList<string> DeviceNames()
    {
        var devices = new List<string> { "cpu" };
        if (Environment.GetEnvironmentVariable("NORMNB_DEVICE") is { } name && name.StartsWith("cuda", StringComparison.Ordinal))
            devices.Add(Compute.ResolveDevice(name).ToString());
        return devices;
    }

    public static TheoryData<string> Devices() => new(DeviceNames());

    public static TheoryData<string, ScalarType> DevicesAndTypes()
    {
        var data = new TheoryData<string, ScalarType>();
        foreach (var device in DeviceNames())
        {
            data.Add(device, ScalarType.Float32);
            data.Add(device, ScalarType.Float64);
        }
        return data;
    }
}
