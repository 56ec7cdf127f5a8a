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
        var suite = new Option<string>("--suite") { Description = "norms, softmax, int8, step or all.", DefaultValueFactory = _ => "all" };
        var shapes = new Option<string>("--shapes")
        {
            Description = "Norm inputs as ROWSxFEATURES, comma-separated.",
            DefaultValueFactory = _ => string.Join(",", BenchSizes.TrainingShapes.Select(s => $"{s.Rows}x{s.Features}")),
        };
        var size = new Option<long>("--size") { Description = "N for the [N, N] softmax input and the N×N int8 product.", DefaultValueFactory = _ => 4096 };
        var threads = new Option<int?>("--threads") { Description = "Threads for libtorch and our kernels (default: libtorch's)." };
        var seconds = new Option<double>("--seconds") { Description = "Time budget per timed case.", DefaultValueFactory = _ => 1.0 };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to this file." };
        var noPyTorch = new Option<bool>("--no-pytorch") { Description = "Skip the PyTorch (python3-torch) peer even when installed." };
        var command = new Command("bench", "Time the fused norm, softmax and int8 kernels next to libtorch (and PyTorch when installed).")
        {
            suite, shapes, size, threads, seconds, json, noPyTorch,
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
            if (ParseShapes(parse.GetValue(shapes)!) is not { } normShapes)
            {
                Console.Error.WriteLine($"normnb bench: --shapes '{parse.GetValue(shapes)}' is not a comma-separated list of ROWSxFEATURES with positive numbers (e.g. 2048x64,8192x512).");
                return 2;
            }
            var n = parse.GetValue(size);
            var (sizes, budget) = (new BenchSizes(normShapes, n, n, n), TimeSpan.FromSeconds(parse.GetValue(seconds)));
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

    internal static IReadOnlyList<(long Rows, long Features)>? ParseShapes(string text)
    {
        var shapes = new List<(long, long)>();
        foreach (var item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = item.Split('x');
            if (parts.Length != 2 || !long.TryParse(parts[0], out var rows) || !long.TryParse(parts[1], out var features) || rows <= 0 || features <= 0)
                return null;
            shapes.Add((rows, features));
        }
        return shapes.Count == 0 ? null : shapes;
    }

    private static void Print(BenchReport report)
    {
        var e = report.Environment;
        Console.WriteLine($"{e.Cpu}; {e.Threads} threads; kernels: {e.KernelIsa}, on {e.KernelThreads}; .NET {e.DotNet}, TorchSharp {e.TorchSharp} (libtorch {e.LibTorch}){(e.PyTorch is null ? "" : $", PyTorch {e.PyTorch} (Debian)")}");
        Console.WriteLine($"native heap: {e.NativeHeap}");
        Console.WriteLine($"copy bandwidth (copy into a preallocated tensor): {report.CopyBandwidthGBps:F1} GB/s; GB/s counts each input read and each output written once, moved GB/s what the algorithm really reads and writes");
        foreach (var group in report.Cases.GroupBy(c => (c.Suite, c.Shape, c.Baseline)))
        {
            Console.WriteLine();
            Console.WriteLine($"{group.Key.Suite} — {group.Key.Shape}; ratio = baseline median / this median; block mean: geometric mean of the ratios of {Benchmarks.Blocks} paired blocks of rounds, with its 95% interval; baseline: {group.Key.Baseline}");
            var traffic = group.Any(c => c.TrafficBytes > 0);
            Console.WriteLine($"  {"case",-56} {"median ms (IQR)",26} {"GB/s",7} {"% copy",7}{(traffic ? $" {"moved GB/s",10}" : "")} {"GFLOP/s",8} {"ratio",7} {"block mean [95%]",19}");
            foreach (var c in group)
            {
                var iqr = c.Timing.Runs == 0 ? $"{c.Timing.MedianMs:0.000}" : $"{c.Timing.MedianMs:0.000} ({c.Timing.Q1Ms:0.000}–{c.Timing.Q3Ms:0.000})";
                var gbps = c.Bytes > 0 ? $"{c.GBps,7:0.0} {c.BandwidthFraction,7:P0}" : $"{"",7} {"",7}";
                var gflops = c.Flops > 0 ? $"{c.GFlops,8:0.0}" : $"{"",8}";
                var moved = !traffic ? "" : c.TrafficBytes > 0 ? $" {c.TrafficGBps,10:0.0}" : $" {"",10}";
                Console.WriteLine($"  {c.Name,-56} {iqr,26} {gbps}{moved} {gflops} {c.Speedup,7:0.00} {Range(c.SpeedupInterval),19}");
            }
            foreach (var comparison in report.Comparisons.Where(x => x.Suite == group.Key.Suite && x.Shape == group.Key.Shape && group.Any(c => c.Name == x.Case)))
                Console.WriteLine($"  {comparison.Case} vs {comparison.Over}: {Range(comparison.Speedup)}");
        }
    }

    // The interval's own centre (the geometric mean of the block ratios) with it: the ratio of medians beside it need not lie inside.
    private static string Range(Reporting.Interval? interval) =>
        interval?.Lower is { } lower && interval.Upper is { } upper ? $"{interval.Estimate:0.00} [{lower:0.00}, {upper:0.00}]" : "";
}
