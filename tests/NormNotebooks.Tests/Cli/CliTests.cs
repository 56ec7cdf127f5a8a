// SPDX-License-Identifier: MIT
using System.Text.Json;
using NormNotebooks.Runtime;
using TorchSharp;

namespace NormNotebooks.Tests.Cli;

/// <summary>Runs the built <c>normnb</c> as a child process, as a user would.</summary>
public sealed class CliTests
{
    public static (int ExitCode, string Stdout, string Stderr) Normnb(params string[] args) => Normnb(null, args);

    public static (int ExitCode, string Stdout, string Stderr) Normnb(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "normnb.dll");
        var result = ExternalProcess.Run("dotnet", [dll, .. args], TimeSpan.FromMinutes(5), environment: environment);
        Assert.False(result.TimedOut, "normnb did not finish within 5 minutes");
        return (result.ExitCode, result.Stdout, result.Stderr);
    }

    [Fact]
    public void Info_PrintsVersionsDeviceAndLoadRoute()
    {
        var (exit, stdout, stderr) = Normnb("info");
        Assert.True(exit == 0, stderr);
        // The CLI process reads the same NORMNB_DEVICE and loads the same TorchSharp as this one: compare with what this process sees.
        Assert.Contains($"libtorch {string.Join('.', torch.__version__.Split('.').Take(3))}", stdout);
        Assert.Contains($"Device         {Compute.Device}", stdout);
        Assert.Matches("Native load    (patched-copy|package|not-linux)", stdout);
    }

    [Fact]
    public void Info_Json_IsMachineReadable()
    {
        var (exit, stdout, stderr) = Normnb("info", "--json");
        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(torch.__version__, json.RootElement.GetProperty("libTorch").GetString());
        Assert.True(json.RootElement.GetProperty("threads").GetInt32() >= 1);
    }

    [Fact]
    public void Data_ReportsBothDataSets()
    {
        var (exit, stdout, stderr) = Normnb("data", "--json");
        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var fashion = json.RootElement.GetProperty("fashionMnist");
        Assert.Equal(70_000, fashion.GetProperty("totalImages").GetInt32());
        Assert.True(fashion.GetProperty("checksumsOk").GetBoolean());
        var brown = json.RootElement.GetProperty("brown");
        Assert.Equal(500, brown.GetProperty("documents").GetInt32());
        Assert.True(brown.GetProperty("characters").GetInt64() > 5_000_000);
    }

    [Fact]
    public void UnknownCommand_FailsWithUsage()
    {
        var (exit, _, stderr) = Normnb("frobnicate");
        Assert.NotEqual(0, exit);
        Assert.Contains("frobnicate", stderr);
    }

    [Fact]
    public void Bench_PrintsEachSuiteWithRatiosToItsBaseline_AndWritesJson()
    {
        var path = Path.Combine(Path.GetTempPath(), $"normnb-bench-{Guid.NewGuid():N}.json");
        try
        {
            var (exit, stdout, stderr) = Normnb("bench", "--suite", "softmax", "--size", "64", "--seconds", "0.01", "--no-pytorch", "--json", path);
            Assert.True(exit == 0, stderr);
            Assert.Contains("copy bandwidth", stdout);
            Assert.Contains("baseline: torch.softmax", stdout);
            Assert.Contains("two-pass", stdout);
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            var cases = json.RootElement.GetProperty("Cases").EnumerateArray().ToList();
            Assert.Equal(9, cases.Count);   // four implementations × (in-cache rows, out-of-cache rows), and the exp ceiling
            Assert.Contains("two-pass vs three-pass reload:", stdout);
            Assert.Contains("moved GB/s", stdout);
            Assert.All(cases, c => Assert.True(c.GetProperty("Speedup").GetDouble() > 0));
        }
        finally
        {
            File.Delete(path);
        }
        var (bad, _, error) = Normnb("bench", "--suite", "fft");
        Assert.Equal(2, bad);
        Assert.Contains("unknown suite 'fft'", error);
        var (badShape, _, shapeError) = Normnb("bench", "--suite", "norms", "--shapes", "64x0");
        Assert.Equal(2, badShape);
        Assert.Contains("--shapes '64x0'", shapeError);
    }

    [Fact]
    public void BenchNorms_TimesTheGivenShapes_WithIntervalsAndTheRmsNormComparison()
    {
        var (exit, stdout, stderr) = Normnb("bench", "--suite", "norms", "--shapes", "32x16,8x24", "--seconds", "0.01", "--no-pytorch");
        Assert.True(exit == 0, stderr);
        Assert.Contains("norms — [32, 16] float32", stdout);
        Assert.Contains("norms — [8, 24] float32", stdout);
        Assert.Contains("fused RMSNorm forward+backward vs fused LayerNorm forward+backward:", stdout);
        Assert.Contains("native heap:", stdout);
        Assert.Contains("geometric mean of the ratios of 10 paired blocks of rounds, with its 95% interval", stdout);
    }
}
