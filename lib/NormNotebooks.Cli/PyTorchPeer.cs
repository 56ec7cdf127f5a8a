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
        void Add(string suite, string? shape, string key, string name, string? baselineName = null)
        {
            var baseline = cases.FirstOrDefault(c => c.Suite == suite && (shape is null || c.Shape == shape) && (baselineName is null || c.Name == baselineName));
            if (baseline is null || !peer.TryGetValue(key, out var ms))
                return;
            var timing = new Timing(name, ms, ms, ms, 0, [ms]);
            cases.Insert(cases.IndexOf(baseline) + 1, baseline with { Name = name, Timing = timing, Speedup = timing.SpeedupOver(baseline.Timing), SpeedupInterval = null });
        }
        foreach (var (rows, n) in sizes.NormShapes)
        {
            var shape = $"[{rows}, {n}] float32";
            Add("norms", shape, $"layer_norm forward {rows}x{n}", "PyTorch (Debian) layer_norm forward", "libtorch layer_norm forward");
            Add("norms", shape, $"layer_norm forward+backward {rows}x{n}", "PyTorch (Debian) layer_norm forward+backward", "libtorch layer_norm forward+backward");
        }
        Add("softmax", null, "softmax", "PyTorch (Debian) torch.softmax");
        Add("int8", null, "matmul", "PyTorch (Debian) float32 matmul");
        return report with { Environment = report.Environment with { PyTorch = version }, Cases = cases };
    }

    /// <summary>Median milliseconds of PyTorch's layer_norm forward and forward+backward, softmax and matmul on the suites' shapes, or null
    /// without PyTorch.</summary>
    public static IReadOnlyDictionary<string, double>? Time(BenchSizes sizes, int threads, TimeSpan budget)
    {
        if (Version() is null)
            return null;
        var shapes = "[" + string.Join(", ", sizes.NormShapes.Select(s => $"({s.Rows}, {s.Features})")) + "]";
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
            for rows, n in {{shapes}}:
                x = torch.randn(rows, n); dy = torch.randn(rows, n)
                w = torch.ones(n, requires_grad=True); b = torch.zeros(n, requires_grad=True)
                with torch.no_grad():
                    out[f"layer_norm forward {rows}x{n}"] = med(lambda: torch.nn.functional.layer_norm(x, [n], w, b))
                def both():
                    xg = x.detach().requires_grad_()
                    torch.nn.functional.layer_norm(xg, [n], w, b).backward(dy)
                out[f"layer_norm forward+backward {rows}x{n}"] = med(both)
            with torch.no_grad():
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
