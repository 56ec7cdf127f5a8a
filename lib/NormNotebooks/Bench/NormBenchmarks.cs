// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using static TorchSharp.torch;

namespace NormNotebooks.Bench;

/// <summary>One norm's forward and forward+backward timings, and their ratio to libtorch's LayerNorm measured in the same run.</summary>
public sealed record NormBenchmark(string Norm, Timing Forward, Timing ForwardBackward, double ForwardVsLibtorchLayerNorm, double ForwardBackwardVsLibtorchLayerNorm);

/// <summary>Forward and forward+backward micro-benchmarks for every factory norm on a [rows, features] float32 input.</summary>
public static class NormBenchmarks
{
    /// <summary>Norms that take a channels-last [rows, features] input.</summary>
    public static IReadOnlyList<string> ChannelsLastNorms =>
        NormFactory.Names.Where(n => n is not ("none" or "groupnorm" or "instancenorm" or "bcn" or "bcn-estimated" or "evonorm-b0" or "evonorm-s0" or "regionnorm-l")).ToList();

    /// <summary>Runs the suite; the baseline is libtorch's fused layer_norm through TorchSharp.</summary>
    public static IReadOnlyList<NormBenchmark> Run(long rows = 2048, long features = 128, TimeSpan? budgetPerCase = null, IEnumerable<string>? norms = null, Action<string>? progress = null)
    {
        var budget = budgetPerCase ?? TimeSpan.FromSeconds(0.5);
        using var input = randn(rows, features);
        using var upstream = randn(rows, features);
        var weight = ones(features).requires_grad_();
        var bias = zeros(features).requires_grad_();
        var baselineForward = Measure.Run("libtorch layer_norm forward", () =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            nn.functional.layer_norm(input, [features], weight, bias);
        }, budget);
        var baselineBackward = Measure.Run("libtorch layer_norm forward+backward", () =>
        {
            using var scope = NewDisposeScope();
            var x = input.detach().requires_grad_();
            nn.functional.layer_norm(x, [features], weight, bias).backward([upstream]);
        }, budget);

        var results = new List<NormBenchmark>();
        foreach (var name in norms ?? ChannelsLastNorms)
        {
            progress?.Invoke(name);
            var norm = NormFactory.Create(name, features, new NormOptions { Depth = 2, WarmupIterations = 0 });
            var forward = Measure.Run($"{name} forward", () =>
            {
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                norm.forward(input);
            }, budget);
            var backward = Measure.Run($"{name} forward+backward", () =>
            {
                using var scope = NewDisposeScope();
                var x = input.detach().requires_grad_();
                norm.forward(x).backward([upstream]);
                norm.zero_grad();
            }, budget);
            results.Add(new NormBenchmark(name, forward, backward, forward.SpeedupOver(baselineForward), backward.SpeedupOver(baselineBackward)));
        }
        results.Insert(0, new NormBenchmark("libtorch layer_norm (baseline)", baselineForward, baselineBackward, 1, 1));
        return results;
    }
}
