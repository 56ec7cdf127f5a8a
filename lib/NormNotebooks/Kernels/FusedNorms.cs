// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>
/// LayerNorm and RMSNorm on tensors through <see cref="NormKernels"/>, with autograd. A norm module built with
/// <see cref="Norms.NormImplementation.Fused"/> calls these for contiguous float32 CPU inputs and runs libtorch ops elsewhere
/// (CUDA, float64, non-contiguous).
/// </summary>
public static unsafe class FusedNorms
{
    /// <summary>Whether the kernels apply to <paramref name="x"/> (and the parameters): contiguous float32 on the CPU.</summary>
    public static bool Applies(Tensor x, params Tensor?[] parameters) =>
        TensorMemory.IsKernelReady(x) && x.dim() >= 1 && x.shape[^1] > 0 && parameters.All(p => p is null || TensorMemory.IsKernelReady(p));

    /// <summary>LayerNorm over the last axis with optional gain and bias; without gradients it can write into a reusable
    /// <paramref name="output"/> of x's shape (a fresh tensor costs a page fault per 4 KiB on first touch, which dominates at large sizes).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? gamma, Tensor? beta, double eps, Tensor? output = null)
    {
        Require(x, gamma, beta);
        if (NeedsGrad(x, gamma, beta))
            return LayerNormFunction.apply(x, gamma!, beta!, eps, gamma is not null, beta is not null);
        return LayerNormForward(x, gamma, beta, eps, output).Y;
    }

    /// <summary>RMSNorm over the last axis with an optional gain; without gradients it can write into a reusable <paramref name="output"/>.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? gamma, double eps, Tensor? output = null)
    {
        Require(x, gamma);
        if (NeedsGrad(x, gamma))
            return RmsNormFunction.apply(x, gamma!, eps, gamma is not null);
        return RmsNormForward(x, gamma, eps, output).Y;
    }

    private static Tensor Output(Tensor x, Tensor? output)
    {
        if (output is null)
            return empty_like(x);
        if (!TensorMemory.IsKernelReady(output) || !output.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"Fused norms: the output must be a contiguous float32 CPU tensor of shape [{string.Join(", ", x.shape)}].", nameof(output));
        return output;
    }

    // The row means and reciprocal deviations share one allocation: [2, rows], means first.
    internal static (Tensor Y, Tensor Stats) LayerNormForward(Tensor x, Tensor? gamma, Tensor? beta, double eps, Tensor? output = null)
    {
        var n = (int)x.shape[^1];
        var rows = x.numel() / n;
        var y = Output(x, output);
        var stats = empty(2, rows, dtype: ScalarType.Float32);
        var mean = TensorMemory.Float32(stats);
        NormKernels.LayerNormForward(TensorMemory.Float32(x), gamma is null ? null : TensorMemory.Float32(gamma), beta is null ? null : TensorMemory.Float32(beta),
            TensorMemory.Float32(y), mean, mean + rows, rows, n, (float)eps);
        return (y, stats);
    }

    internal static (Tensor Y, Tensor Rrms) RmsNormForward(Tensor x, Tensor? gamma, double eps, Tensor? output = null)
    {
        var n = (int)x.shape[^1];
        var rows = x.numel() / n;
        var y = Output(x, output);
        var rrms = empty(rows, dtype: ScalarType.Float32);
        NormKernels.RmsNormForward(TensorMemory.Float32(x), gamma is null ? null : TensorMemory.Float32(gamma), TensorMemory.Float32(y), TensorMemory.Float32(rrms), rows, n, (float)eps);
        return (y, rrms);
    }

    private static bool NeedsGrad(params Tensor?[] tensors) => is_grad_enabled() && tensors.Any(t => t is not null && t.requires_grad);

    private static void Require(Tensor x, params Tensor?[] parameters)
    {
        if (!Applies(x, parameters))
            throw new ArgumentException($"Fused norms need contiguous float32 CPU tensors; got x {x.dtype} on {x.device_type}, contiguous {x.is_contiguous()}.", nameof(x));
        foreach (var p in parameters)
            if (p is not null && (p.dim() != 1 || p.shape[0] != x.shape[^1]))
                throw new ArgumentException($"Fused norms: a gain or bias must have shape [{x.shape[^1]}], got [{string.Join(", ", p.shape)}].", nameof(parameters));
    }

    private static Tensor Contiguous(Tensor t) => t.is_contiguous() ? t : t.contiguous();

    private sealed class LayerNormFunction : autograd.SingleTensorFunction<LayerNormFunction>
    {
        public override string Name => "FusedLayerNorm";

        // vars: x, γ (or null), β (or null), ε, has γ, has β.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, gamma, beta) = ((Tensor)vars[0], vars[4] is true ? (Tensor)vars[1] : null, vars[5] is true ? (Tensor)vars[2] : null);
            // The kernels read memory, not the graph: no detached copies of the inputs are needed, to compute or to save.
            var (y, stats) = LayerNormForward(x, gamma, beta, (double)vars[3]);
            ctx.save_for_backward(gamma is null ? [x, stats] : [x, stats, gamma]);
            ctx.save_data("beta", beta is not null);
            return y;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (x, stats) = (saved[0], saved[1]);
            var gamma = saved.Count > 2 ? saved[2] : null;
            var hasBeta = (bool)ctx.get_data("beta");
            var dy = Contiguous(gradOutput);
            var n = (int)x.shape[^1];
            var dx = empty_like(x);
            var dgamma = gamma is null ? null : empty(n, dtype: ScalarType.Float32);
            var dbeta = hasBeta ? empty(n, dtype: ScalarType.Float32) : null;
            var rows = x.numel() / n;
            var mean = TensorMemory.Float32(stats);
            NormKernels.LayerNormBackward(TensorMemory.Float32(dy), TensorMemory.Float32(x), gamma is null ? null : TensorMemory.Float32(gamma),
                mean, mean + rows, TensorMemory.Float32(dx), dgamma is null ? null : TensorMemory.Float32(dgamma),
                dbeta is null ? null : TensorMemory.Float32(dbeta), rows, n);
            return [dx, dgamma!, dbeta!, null!, null!, null!];
        }
    }

    private sealed class RmsNormFunction : autograd.SingleTensorFunction<RmsNormFunction>
    {
        public override string Name => "FusedRmsNorm";

        // vars: x, γ (or null), ε, has γ.
        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, gamma) = ((Tensor)vars[0], vars[3] is true ? (Tensor)vars[1] : null);
            var (y, rrms) = RmsNormForward(x, gamma, (double)vars[2]);
            ctx.save_for_backward(gamma is null ? [x, rrms] : [x, rrms, gamma]);
            return y;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var (x, rrms) = (saved[0], saved[1]);
            var gamma = saved.Count > 2 ? saved[2] : null;
            var dy = Contiguous(gradOutput);
            var n = (int)x.shape[^1];
            var dx = empty_like(x);
            var dgamma = gamma is null ? null : empty(n, dtype: ScalarType.Float32);
            NormKernels.RmsNormBackward(TensorMemory.Float32(dy), TensorMemory.Float32(x), gamma is null ? null : TensorMemory.Float32(gamma),
                TensorMemory.Float32(rrms), TensorMemory.Float32(dx), dgamma is null ? null : TensorMemory.Float32(dgamma), x.numel() / n, n);
            return [dx, dgamma!, null!, null!];
        }
    }
}
