// SPDX-License-Identifier: MIT
using System.CommandLine;
using NormNotebooks.Bench;
using NormNotebooks.Kernels;
using NormNotebooks.Runtime;

namespace NormNotebooks.Cli;

/// <summary><c>normnb bench</c>: the kernel suites, every figure also a ratio to a baseline measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var suite = new Option<string>("--suite") { Description = "norms, softmax, int8 or all.", DefaultValueFactory = _ => "all" };
        var size = new Option<long>("--size") { Description = "N for the [N, N] norm and softmax inputs and the N×N int8 product.", DefaultValueFactory = _ => 4096 };
        var threads = new Option<int?>("--threads") { Description = "Threads for libtorch and our kernels (default: libtorch's)." };
        var seconds = new Option<double>("--seconds") { Description = "Time budget per timed case.", DefaultValueFactory = _ => 1.0 };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to this file." };
        var noPyTorch = new Option<bool>("--no-pytorch") { Description = "Skip the PyTorch (python3-torch) peer even when installed." };
        var command = new Command("bench", "Time the fused norm, softmax and int8 kernels next to libtorch (and PyTorch when installed).")
        {
            suite, size, threads, seconds, json, noPyTorch,
        };
        command.SetAction(parse =>
        {
            var chosen = parse.GetValue(suite) == "all" ? Benchmarks.Suites : [parse.GetValue(suite)!];
            if (chosen.Any(s => !Benchmarks.Suites.Contains(s)))
            {
                Console.Error.WriteLine($"normnb bench: unknown suite '{parse.GetValue(suite)}'; available: {string.Join(", ", Benchmarks.Suites)}, all.");
                return 2;
            }
            if (parse.GetValue(threads) is { } count)
            {
                Compute.SetThreads(count);
                NormKernels.Threads = SoftmaxKernels.Threads = Int8Kernels.Threads = count;
            }
            var n = parse.GetValue(size);
            var (sizes, budget) = (new BenchSizes(n, n, n, n, n), TimeSpan.FromSeconds(parse.GetValue(seconds)));
            var report = Benchmarks.Run(chosen, sizes, budget, step => Console.Error.WriteLine($"  timing {step} …"));
            if (!parse.GetValue(noPyTorch))
            {
                Console.Error.WriteLine("  timing PyTorch (Debian), when installed …");
                report = PyTorchPeer.AddTo(report, sizes, NormKernels.Threads, budget);
            }
            Print(report);
            if (parse.GetValue(json) is { } path)
                File.WriteAllText(path, report.ToJson());
            return 0;
        });
        return command;
    }

    private static void Print(BenchReport report)
    {
        var e = report.Environment;
        Console.WriteLine($"{e.Cpu}; {e.Threads} threads; kernels: {e.KernelIsa}; .NET {e.DotNet}, TorchSharp {e.TorchSharp} (libtorch {e.LibTorch}){(e.PyTorch is null ? "" : $", PyTorch {e.PyTorch} (Debian)")}");
        Console.WriteLine($"copy bandwidth (copy into a preallocated tensor): {report.CopyBandwidthGBps:F1} GB/s");
        foreach (var group in report.Cases.GroupBy(c => (c.Suite, c.Shape)))
        {
            Console.WriteLine();
            Console.WriteLine($"{group.Key.Suite} — {group.Key.Shape}; ratio = baseline time / this time, baseline: {group.First().Baseline}");
            Console.WriteLine($"  {"case",-56} {"median ms (IQR)",26} {"GB/s",7} {"% copy",7} {"GFLOP/s",8} {"ratio",7}");
            foreach (var c in group)
            {
                var iqr = c.Timing.Runs == 0 ? $"{c.Timing.MedianMs:0.000}" : $"{c.Timing.MedianMs:0.000} ({c.Timing.Q1Ms:0.000}–{c.Timing.Q3Ms:0.000})";
                var gbps = c.Bytes > 0 ? $"{c.GBps,7:0.0} {c.BandwidthFraction,7:P0}" : $"{"",7} {"",7}";
                var gflops = c.Flops > 0 ? $"{c.GFlops,8:0.0}" : $"{"",8}";
                Console.WriteLine($"  {c.Name,-56} {iqr,26} {gbps} {gflops} {c.Speedup,7:0.00}");
            }
        }
    }
}
