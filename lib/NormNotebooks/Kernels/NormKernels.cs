// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNotebooks.Kernels;

/// <summary>
/// Fused LayerNorm and RMSNorm over the last axis of contiguous float32 CPU tensors, forward and backward, in C# SIMD
/// (<see cref="Vector256{T}"/> with scalar tails), rows split across threads. Each row is read once into cache and then worked on in
/// registers: mean, then the centred sum of squares (two-pass variance, never E[x²] − E[x]²), then the normalised output; the
/// backward reads x, dy and the saved per-row statistics, and accumulates dγ, dβ per thread before a final reduction.
/// </summary>
/// <remarks>Backward formulas with x̂ = (x − μ)·r (LayerNorm) or x·r (RMSNorm), g = dy ⊙ γ, n features:
/// LayerNorm dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)); RMSNorm dx = r·(g − x̂·mean(g ⊙ x̂)); dγ = Σ_rows dy ⊙ x̂; dβ = Σ_rows dy.</remarks>
public static unsafe class NormKernels
{
    private static int? _threads;

    /// <summary>Worker threads (default: libtorch's intra-op thread count, so kernels and libtorch compare at equal parallelism).</summary>
    public static int Threads
    {
        get => _threads ?? Math.Max(1, Runtime.Compute.Threads);
        set => _threads = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be positive.");
    }

    /// <summary>LayerNorm forward: y = (x − μ)/√(σ² + ε)·γ + β per row of x [rows, n]; writes the row means and reciprocal deviations.</summary>
    public static void LayerNormForward(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, long rows, int n, float eps)
    {
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            for (var row = first; row < end; row++)
            {
                var xr = x + row * n;
                var yr = y + row * n;
                var mu = Sum(xr, n) / n;
                var r = 1f / MathF.Sqrt(CentredSquares(xr, n, mu) / n + eps);
                mean[row] = mu;
                rstd[row] = r;
                var vm = Vector256.Create(mu);
                var vr = Vector256.Create(r);
                var i = 0;
                for (; i <= n - 8; i += 8)
                {
                    var xhat = (Vector256.Load(xr + i) - vm) * vr;
                    var v = gamma is null ? xhat : xhat * Vector256.Load(gamma + i);
                    if (beta is not null)
                        v += Vector256.Load(beta + i);
                    v.Store(yr + i);
                }
                for (; i < n; i++)
                {
                    var v = (xr[i] - mu) * r;
                    if (gamma is not null)
                        v *= gamma[i];
                    if (beta is not null)
                        v += beta[i];
                    yr[i] = v;
                }
            }
        });
    }

    /// <summary>RMSNorm forward: y = x/√(mean(x²) + ε)·γ per row; writes the reciprocal RMS of each row.</summary>
    public static void RmsNormForward(float* x, float* gamma, float* y, float* rrms, long rows, int n, float eps)
    {
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            for (var row = first; row < end; row++)
            {
                var xr = x + row * n;
                var yr = y + row * n;
                var r = 1f / MathF.Sqrt(Squares(xr, n) / n + eps);
                rrms[row] = r;
                var vr = Vector256.Create(r);
                var i = 0;
                for (; i <= n - 8; i += 8)
                {
                    var v = Vector256.Load(xr + i) * vr;
                    (gamma is null ? v : v * Vector256.Load(gamma + i)).Store(yr + i);
                }
                for (; i < n; i++)
                    yr[i] = gamma is null ? xr[i] * r : xr[i] * r * gamma[i];
            }
        });
    }

    /// <summary>LayerNorm backward from the forward's saved statistics; dγ and dβ (may be null) are overwritten.</summary>
    public static void LayerNormBackward(float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx, float* dgamma, float* dbeta, long rows, int n) =>
        Backward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, n, centred: true);

    /// <summary>RMSNorm backward from the forward's saved reciprocal RMS; dγ (may be null) is overwritten.</summary>
    public static void RmsNormBackward(float* dy, float* x, float* gamma, float* rrms, float* dx, float* dgamma, long rows, int n) =>
        Backward(dy, x, gamma, null, rrms, dx, dgamma, null, rows, n, centred: false);

    private static void Backward(float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx, float* dgamma, float* dbeta, long rows, int n, bool centred)
    {
        var workers = (int)Math.Max(1, Math.Min(Threads, rows));
        var partialGamma = dgamma is null ? null : new float[workers * n];
        var partialBeta = dbeta is null ? null : new float[workers * n];
        Rows.Split(rows, workers, (first, end, w) =>
        {
            fixed (float* pg = partialGamma, pb = partialBeta)
            {
                var accGamma = pg is null ? null : pg + (long)w * n;
                var accBeta = pb is null ? null : pb + (long)w * n;
                for (var row = first; row < end; row++)
                {
                    var xr = x + row * n;
                    var dyr = dy + row * n;
                    var dxr = dx + row * n;
                    var mu = centred ? mean[row] : 0f;
                    var r = rstd[row];
                    var (vm, vr) = (Vector256.Create(mu), Vector256.Create(r));
                    var (sumG, sumGx) = (Vector256<float>.Zero, Vector256<float>.Zero);
                    var i = 0;
                    for (; i <= n - 8; i += 8)
                    {
                        var xhat = (Vector256.Load(xr + i) - vm) * vr;
                        var g = gamma is null ? Vector256.Load(dyr + i) : Vector256.Load(dyr + i) * Vector256.Load(gamma + i);
                        sumG += g;
                        sumGx += g * xhat;
                    }
                    float sg = Vector256.Sum(sumG), sgx = Vector256.Sum(sumGx);
                    for (; i < n; i++)
                    {
                        var xhat = (xr[i] - mu) * r;
                        var g = gamma is null ? dyr[i] : dyr[i] * gamma[i];
                        sg += g;
                        sgx += g * xhat;
                    }
                    var a = centred ? sg / n : 0f;
                    var b = sgx / n;
                    var (va, vb) = (Vector256.Create(a), Vector256.Create(b));
                    i = 0;
                    for (; i <= n - 8; i += 8)
                    {
                        var xhat = (Vector256.Load(xr + i) - vm) * vr;
                        var d = Vector256.Load(dyr + i);
                        var g = gamma is null ? d : d * Vector256.Load(gamma + i);
                        ((g - va - xhat * vb) * vr).Store(dxr + i);
                        if (accGamma is not null)
                            (Vector256.Load(accGamma + i) + d * xhat).Store(accGamma + i);
                        if (accBeta is not null)
                            (Vector256.Load(accBeta + i) + d).Store(accBeta + i);
                    }
                    for (; i < n; i++)
                    {
                        var xhat = (xr[i] - mu) * r;
                        var g = gamma is null ? dyr[i] : dyr[i] * gamma[i];
                        dxr[i] = (g - a - xhat * b) * r;
                        if (accGamma is not null)
                            accGamma[i] += dyr[i] * xhat;
                        if (accBeta is not null)
                            accBeta[i] += dyr[i];
                    }
                }
            }
        });
        Reduce(partialGamma, dgamma, workers, n);
        Reduce(partialBeta, dbeta, workers, n);
    }

    private static void Reduce(float[]? partial, float* target, int workers, int n)
    {
        if (partial is null || target is null)
            return;
        for (var i = 0; i < n; i++)
        {
            var s = 0f;
            for (var w = 0; w < workers; w++)
                s += partial[w * n + i];
            target[i] = s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum(float* p, int n)
    {
        var (a0, a1) = (Vector256<float>.Zero, Vector256<float>.Zero);
        var i = 0;
        for (; i <= n - 16; i += 16)
        {
            a0 += Vector256.Load(p + i);
            a1 += Vector256.Load(p + i + 8);
        }
        for (; i <= n - 8; i += 8)
            a0 += Vector256.Load(p + i);
        var s = Vector256.Sum(a0 + a1);
        for (; i < n; i++)
            s += p[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float CentredSquares(float* p, int n, float mu)
    {
        var vm = Vector256.Create(mu);
        var (a0, a1) = (Vector256<float>.Zero, Vector256<float>.Zero);
        var i = 0;
        for (; i <= n - 16; i += 16)
        {
            var d0 = Vector256.Load(p + i) - vm;
            var d1 = Vector256.Load(p + i + 8) - vm;
            a0 += d0 * d0;
            a1 += d1 * d1;
        }
        for (; i <= n - 8; i += 8)
        {
            var d = Vector256.Load(p + i) - vm;
            a0 += d * d;
        }
        var s = Vector256.Sum(a0 + a1);
        for (; i < n; i++)
            s += (p[i] - mu) * (p[i] - mu);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Squares(float* p, int n)
    {
        var (a0, a1) = (Vector256<float>.Zero, Vector256<float>.Zero);
        var i = 0;
        for (; i <= n - 16; i += 16)
        {
            var v0 = Vector256.Load(p + i);
            var v1 = Vector256.Load(p + i + 8);
            a0 += v0 * v0;
            a1 += v1 * v1;
        }
        for (; i <= n - 8; i += 8)
        {
            var v = Vector256.Load(p + i);
            a0 += v * v;
        }
        var s = Vector256.Sum(a0 + a1);
        for (; i < n; i++)
            s += p[i] * p[i];
        return s;
    }
}
