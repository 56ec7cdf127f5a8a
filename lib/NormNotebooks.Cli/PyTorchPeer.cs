// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;
using System.Text.Json;
using NormNotebooks.Bench;

namespace NormNotebooks.Cli;

/// <summary>PyTorch from Debian (python3-torch) as a peer, when installed: the same operations timed by a small script.</summary>
internal static class PyTorchPeer
{
    private const string Python = "/usr/bin/python3";

    /// <summary>The installed PyTorch version, or null.</summary>
    public static string? Version()
    {
        if (!File.Exists(Python))
            return null;
        var (code, output) = RunPython("import torch; print(torch.__version__)", TimeSpan.FromSeconds(60));
        return code == 0 ? output.Trim() : null;
    }

    /// <summary>The report with PyTorch's timings as cases beside each suite's baseline and its version in the environment; unchanged
    /// without PyTorch.</summary>
    public static BenchReport AddTo(BenchReport report, BenchSizes sizes, int threads, TimeSpan budget)
    {
        if (Version() is not { } version || Time(sizes, threads, budget) is not { } peer)
            return report;
        var cases = report.Cases.ToList();
        void Add(string suite, string key, string name)
        {
            var baseline = cases.FirstOrDefault(c => c.Suite == suite);
            if (baseline is null || !peer.TryGetValue(key, out var ms))
                return;
            var timing = new Timing(name, ms, ms, ms, 0, [ms]);
            cases.Add(baseline with { Name = name, Timing = timing, Speedup = timing.SpeedupOver(baseline.Timing) });
        }
        Add("norms", "layer_norm forward", "PyTorch (Debian) layer_norm forward");
        Add("softmax", "softmax", "PyTorch (Debian) torch.softmax");
        Add("int8", "matmul", "PyTorch (Debian) float32 matmul");
        return report with { Environment = report.Environment with { PyTorch = version }, Cases = cases };
    }

    /// <summary>Median milliseconds of PyTorch's layer_norm forward, softmax and matmul on the suite's shapes, or null without PyTorch.</summary>
    public static IReadOnlyDictionary<string, double>? Time(BenchSizes sizes, int threads, TimeSpan budget)
    {
        if (Version() is null)
            return null;
        var script = $$"""
            import torch, time, json, statistics
            torch.set_num_threads({{threads}})
            def med(f, budget={{budget.TotalSeconds}}, warmup=3, runs=5):
                for _ in range(warmup): f()
                ts = []; t0 = time.perf_counter()
                while len(ts) < runs or time.perf_counter() - t0 < budget:
                    s = time.perf_counter(); f(); ts.append((time.perf_counter() - s) * 1e3)
                return statistics.median(ts)
            out = {}
            x = torch.randn({{sizes.NormRows}}, {{sizes.NormFeatures}})
            with torch.no_grad():
                out["layer_norm forward"] = med(lambda: torch.nn.functional.layer_norm(x, [{{sizes.NormFeatures}}]))
                s = torch.randn({{sizes.SoftmaxRows}}, {{sizes.SoftmaxColumns}})
                out["softmax"] = med(lambda: torch.softmax(s, -1))
                a = torch.randn({{sizes.MatrixSize}}, {{sizes.MatrixSize}}); b = torch.randn({{sizes.MatrixSize}}, {{sizes.MatrixSize}})
                out["matmul"] = med(lambda: a @ b.t(), budget=0, warmup=1, runs=2)
            print(json.dumps(out))
            """;
        var (code, output) = RunPython(script, TimeSpan.FromMinutes(5));
        return code == 0 ? JsonSerializer.Deserialize<Dictionary<string, double>>(output.Trim().Split('\n')[^1]) : null;
    }

    private static (int Code, string Output) RunPython(string script, TimeSpan timeout)
    {
        var result = ExternalProcess.Run(Python, ["-"], timeout, standardInput: script);
        return (result.ExitCode, result.Stdout);
    }
}
