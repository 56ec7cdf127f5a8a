// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Text.Json;
using NormNotebooks.Bench;
using NormNotebooks.Runtime;

namespace NormNotebooks.Cli;

/// <summary><c>normnb bench</c>: micro-benchmarks with every figure also a ratio to a baseline measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var suite = new Option<string>("--suite") { Description = "Which suite: norms.", DefaultValueFactory = _ => "norms" };
        var rows = new Option<long>("--rows") { Description = "Rows of the [rows, features] input (tokens).", DefaultValueFactory = _ => 2048 };
        var features = new Option<long>("--features") { Description = "Features (model width).", DefaultValueFactory = _ => 128 };
        var threads = new Option<int?>("--threads") { Description = "libtorch intra-op threads (default: libtorch's)." };
        var seconds = new Option<double>("--seconds") { Description = "Time budget per case.", DefaultValueFactory = _ => 0.5 };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file." };
        var command = new Command("bench", "Time the norm layers' forward and forward+backward against libtorch's LayerNorm in the same run.")
        {
            suite, rows, features, threads, seconds, json,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(suite) != "norms")
            {
                Console.Error.WriteLine($"normnb bench: unknown suite '{parse.GetValue(suite)}'; available: norms.");
                return 2;
            }
            if (parse.GetValue(threads) is { } count)
                Compute.SetThreads(count);
            var info = Compute.Describe();
            var (r, f) = (parse.GetValue(rows), parse.GetValue(features));
            Console.WriteLine($"norms on [{r}, {f}] float32, {info.Threads} threads, {info.Cpu}; median (IQR) ms; ratio = libtorch LayerNorm time / this time (> 1: faster)");
            var results = NormBenchmarks.Run(r, f, TimeSpan.FromSeconds(parse.GetValue(seconds)), progress: name => Console.Error.Write($"\r  timing {name,-24}"));
            Console.Error.Write("\r" + new string(' ', 40) + "\r");
            Console.WriteLine($"{"norm",-32} {"forward",22} {"ratio",7} {"forward+backward",24} {"ratio",7}");
            foreach (var b in results)
                Console.WriteLine($"{b.Norm,-32} {Cell(b.Forward),22} {b.ForwardVsLibtorchLayerNorm,7:0.00} {Cell(b.ForwardBackward),24} {b.ForwardBackwardVsLibtorchLayerNorm,7:0.00}");
            if (parse.GetValue(json) is { } path)
                File.WriteAllText(path, JsonSerializer.Serialize(new { environment = info, rows = r, features = f, results }, CliJson.Options));
            return 0;
        });
        return command;
    }

    private static string Cell(Timing t) => $"{t.MedianMs:0.000} ({t.Q1Ms:0.000}–{t.Q3Ms:0.000})";
}
