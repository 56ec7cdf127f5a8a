// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormNotebooks.Kernels;

/// <summary>
/// Fused LayerNorm and RMSNorm over the last axis of contiguous float32 CPU tensors, forward and backward, in C# SIMD (512-bit registers
/// where the CPU accelerates them, else 256-bit; scalar tails), rows split across <see cref="Workers"/>. Each row is read from memory
/// once and then worked on in cache: mean, then the centred sum of squares (two-pass variance, never E[x²] − E[x]²), then the output.
/// The backward reads x and dy once from memory (its second pass over the row hits the cache), takes the row statistics the forward
/// saved, and accumulates dγ and dβ in the same pass, per worker, reduced at the end. Outputs larger than
/// <see cref="StreamingBytes"/> are written with non-temporal stores, which skip the read-for-ownership a normal store makes.
/// </summary>
/// <remarks>Backward formulas with x̂ = (x − μ)·r (LayerNorm) or x·r (RMSNorm), g = dy ⊙ γ, n features:
/// LayerNorm dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)); RMSNorm dx = r·(g − x̂·mean(g ⊙ x̂)); dγ = Σ_rows dy ⊙ x̂; dβ = Σ_rows dy.</remarks>
public static unsafe class NormKernels
{
    private static int? _threads;

    /// <summary>Outputs of at least this many bytes are stored non-temporally (they would not stay in the caches anyway).</summary>
    public const long StreamingBytes = 16L << 20;

    /// <summary>Worker threads (default: libtorch's intra-op thread count, so kernels and libtorch compare at equal parallelism).</summary>
    public static int Threads
    {
        get => _threads ?? Math.Max(1, Runtime.Compute.Threads);
        set => _threads = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be positive.");
    }

    /// <summary>LayerNorm forward: y = (x − μ)/√(σ² + ε)·γ + β per row of x [rows, n] (γ, β may be null: 1 and 0); writes the row means
    /// and reciprocal deviations.</summary>
    public static void LayerNormForward(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, long rows, int n, float eps)
    {
        var g = gamma is null ? Filled.Ones(n) : gamma;
        var b = beta is null ? Filled.Zeros(n) : beta;
        var stream = Streams(y, rows, n);
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            if (Simd.Use512)
                LayerNormRows<V512>(x, g, b, y, mean, rstd, first, end, n, eps, stream);
            else
                LayerNormRows<V256>(x, g, b, y, mean, rstd, first, end, n, eps, stream);
        }, n);
    }

    /// <summary>RMSNorm forward: y = x/√(mean(x²) + ε)·γ per row (γ may be null); writes the reciprocal RMS of each row.</summary>
    public static void RmsNormForward(float* x, float* gamma, float* y, float* rrms, long rows, int n, float eps)
    {
        var g = gamma is null ? Filled.Ones(n) : gamma;
        var stream = Streams(y, rows, n);
        Rows.Split(rows, Threads, (first, end, _) =>
        {
            if (Simd.Use512)
                RmsNormRows<V512>(x, g, y, rrms, first, end, n, eps, stream);
            else
                RmsNormRows<V256>(x, g, y, rrms, first, end, n, eps, stream);
        }, n);
    }

    /// <summary>LayerNorm backward from the forward's saved statistics; dγ and dβ (may be null) are overwritten.</summary>
    public static void LayerNormBackward(float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx, float* dgamma, float* dbeta, long rows, int n) =>
        Backward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, n);

    /// <summary>RMSNorm backward from the forward's saved reciprocal RMS; dγ (may be null) is overwritten.</summary>
    public static void RmsNormBackward(float* dy, float* x, float* gamma, float* rrms, float* dx, float* dgamma, long rows, int n) =>
        Backward(dy, x, gamma, null, rrms, dx, dgamma, null, rows, n);

    private static bool Streams(float* output, long rows, int n) =>
        rows * n * sizeof(float) >= StreamingBytes && Simd.RowsAligned(output, n, Simd.Use512 ? 16 : 8);

    // mean is null for RMSNorm (μ = 0, no dβ); dγ and dβ accumulate per worker: worker 0 straight into the outputs, the others into
    // scratch rows added at the end.
    private static void Backward(float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx, float* dgamma, float* dbeta, long rows, int n)
    {
        var g = gamma is null ? Filled.Ones(n) : gamma;
        var stream = Streams(dx, rows, n);
        var threads = Rows.Count(rows, Threads, n);
        var lanes = (dgamma is null ? 0 : 1) + (dbeta is null ? 0 : 1);
        var scratch = lanes == 0 || threads == 1 ? null : (float*)NativeMemory.AlignedAlloc((nuint)((long)(threads - 1) * lanes * n * sizeof(float)), 64);
        try
        {
            if (dgamma is not null)
                NativeMemory.Clear(dgamma, (nuint)n * sizeof(float));
            if (dbeta is not null)
                NativeMemory.Clear(dbeta, (nuint)n * sizeof(float));
            float* Accumulator(float* target, int lane, int worker) =>
                target is null ? null : worker == 0 ? target : scratch + ((long)(worker - 1) * lanes + lane) * n;
            var workers = Rows.Split(rows, threads, (first, end, w) =>
            {
                var accG = Accumulator(dgamma, 0, w);
                var accB = Accumulator(dbeta, dgamma is null ? 0 : 1, w);
                if (accG is not null)
                    NativeMemory.Clear(accG, (nuint)n * sizeof(float));
                if (accB is not null)
                    NativeMemory.Clear(accB, (nuint)n * sizeof(float));
                if (Simd.Use512)
                    BackwardRows<V512>(dy, x, g, mean, rstd, dx, accG, accB, first, end, n, stream);
                else
                    BackwardRows<V256>(dy, x, g, mean, rstd, dx, accG, accB, first, end, n, stream);
            }, n);
            for (var w = 1; w < workers; w++)
            {
                if (dgamma is not null)
                    Add(dgamma, Accumulator(dgamma, 0, w), n);
                if (dbeta is not null)
                    Add(dbeta, Accumulator(dbeta, dgamma is null ? 0 : 1, w), n);
            }
        }
        finally
        {
            if (scratch is not null)
                NativeMemory.AlignedFree(scratch);
        }
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void LayerNormRows<TV>(float* x, float* gamma, float* beta, float* y, float* mean, float* rstd, long first, long end, int n, float eps, bool stream)
        where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var inverseN = 1f / n;
        for (var row = first; row < end; row++)
        {
            var xr = x + row * n;
            var yr = y + row * n;
            var mu = Sum<TV>(xr, n) * inverseN;
            var r = 1f / MathF.Sqrt(CentredSquares<TV>(xr, n, mu) * inverseN + eps);
            mean[row] = mu;
            rstd[row] = r;
            var (vm, vr) = (TV.Create(mu), TV.Create(r));
            var i = 0;
            if (stream)
                for (; i <= n - w; i += w)
                    TV.StoreNonTemporal(TV.MultiplyAdd((TV.Load(xr + i) - vm) * vr, TV.Load(gamma + i), TV.Load(beta + i)), yr + i);
            else
                for (; i <= n - w; i += w)
                    TV.Store(TV.MultiplyAdd((TV.Load(xr + i) - vm) * vr, TV.Load(gamma + i), TV.Load(beta + i)), yr + i);
            for (; i < n; i++)
                yr[i] = (xr[i] - mu) * r * gamma[i] + beta[i];
        }
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void RmsNormRows<TV>(float* x, float* gamma, float* y, float* rrms, long first, long end, int n, float eps, bool stream)
        where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var inverseN = 1f / n;
        for (var row = first; row < end; row++)
        {
            var xr = x + row * n;
            var yr = y + row * n;
            var r = 1f / MathF.Sqrt(Squares<TV>(xr, n) * inverseN + eps);
            rrms[row] = r;
            var vr = TV.Create(r);
            var i = 0;
            if (stream)
                for (; i <= n - w; i += w)
                    TV.StoreNonTemporal(TV.Load(xr + i) * vr * TV.Load(gamma + i), yr + i);
            else
                for (; i <= n - w; i += w)
                    TV.Store(TV.Load(xr + i) * vr * TV.Load(gamma + i), yr + i);
            for (; i < n; i++)
                yr[i] = xr[i] * r * gamma[i];
        }
    }

    [MethodImpl(Simd.KernelCompilation)]
    private static void BackwardRows<TV>(float* dy, float* x, float* gamma, float* mean, float* rstd, float* dx, float* accGamma, float* accBeta,
        long first, long end, int n, bool stream) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var inverseN = 1f / n;
        for (var row = first; row < end; row++)
        {
            var xr = x + row * n;
            var dyr = dy + row * n;
            var dxr = dx + row * n;
            var mu = mean is null ? 0f : mean[row];
            var r = rstd[row];
            var (vm, vr) = (TV.Create(mu), TV.Create(r));
            // Pass 1 (from memory): Σ g and Σ g·x̂, two accumulators each.
            var (sg0, sg1, sgx0, sgx1) = (TV.Zero, TV.Zero, TV.Zero, TV.Zero);
            var i = 0;
            for (; i <= n - 2 * w; i += 2 * w)
            {
                var g0 = TV.Load(dyr + i) * TV.Load(gamma + i);
                var g1 = TV.Load(dyr + i + w) * TV.Load(gamma + i + w);
                sg0 += g0;
                sg1 += g1;
                sgx0 = TV.MultiplyAdd(g0, (TV.Load(xr + i) - vm) * vr, sgx0);
                sgx1 = TV.MultiplyAdd(g1, (TV.Load(xr + i + w) - vm) * vr, sgx1);
            }
            for (; i <= n - w; i += w)
            {
                var g0 = TV.Load(dyr + i) * TV.Load(gamma + i);
                sg0 += g0;
                sgx0 = TV.MultiplyAdd(g0, (TV.Load(xr + i) - vm) * vr, sgx0);
            }
            float sg = TV.Sum(sg0 + sg1), sgx = TV.Sum(sgx0 + sgx1);
            for (; i < n; i++)
            {
                var g = dyr[i] * gamma[i];
                sg += g;
                sgx += g * (xr[i] - mu) * r;
            }
            // Pass 2 (from cache): dx, and dγ, dβ accumulated.
            var a = mean is null ? 0f : sg * inverseN;
            var b = sgx * inverseN;
            var (va, vnb) = (TV.Create(a), TV.Create(-b));
            for (i = 0; i <= n - w; i += w)
            {
                var xhat = (TV.Load(xr + i) - vm) * vr;
                var d = TV.Load(dyr + i);
                var v = TV.MultiplyAdd(xhat, vnb, d * TV.Load(gamma + i) - va) * vr;
                if (stream)
                    TV.StoreNonTemporal(v, dxr + i);
                else
                    TV.Store(v, dxr + i);
                if (accGamma is not null)
                    TV.Store(TV.MultiplyAdd(d, xhat, TV.Load(accGamma + i)), accGamma + i);
                if (accBeta is not null)
                    TV.Store(TV.Load(accBeta + i) + d, accBeta + i);
            }
            for (; i < n; i++)
            {
                var xhat = (xr[i] - mu) * r;
                dxr[i] = (dyr[i] * gamma[i] - a - xhat * b) * r;
                if (accGamma is not null)
                    accGamma[i] += dyr[i] * xhat;
                if (accBeta is not null)
                    accBeta[i] += dyr[i];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add(float* target, float* source, int n)
    {
        var i = 0;
        if (Simd.Use512)
            for (; i <= n - 16; i += 16)
                V512.Store(V512.Load(target + i) + V512.Load(source + i), target + i);
        for (; i < n; i++)
            target[i] += source[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Sum<TV>(float* p, int n) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var (a0, a1, a2, a3) = (TV.Zero, TV.Zero, TV.Zero, TV.Zero);
        var i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            a0 += TV.Load(p + i);
            a1 += TV.Load(p + i + w);
            a2 += TV.Load(p + i + 2 * w);
            a3 += TV.Load(p + i + 3 * w);
        }
        for (; i <= n - w; i += w)
            a0 += TV.Load(p + i);
        var s = TV.Sum(a0 + a1 + (a2 + a3));
        for (; i < n; i++)
            s += p[i];
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float CentredSquares<TV>(float* p, int n, float mu) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var vm = TV.Create(mu);
        var (a0, a1, a2, a3) = (TV.Zero, TV.Zero, TV.Zero, TV.Zero);
        var i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            var (d0, d1, d2, d3) = (TV.Load(p + i) - vm, TV.Load(p + i + w) - vm, TV.Load(p + i + 2 * w) - vm, TV.Load(p + i + 3 * w) - vm);
            a0 = TV.MultiplyAdd(d0, d0, a0);
            a1 = TV.MultiplyAdd(d1, d1, a1);
            a2 = TV.MultiplyAdd(d2, d2, a2);
            a3 = TV.MultiplyAdd(d3, d3, a3);
        }
        for (; i <= n - w; i += w)
        {
            var d = TV.Load(p + i) - vm;
            a0 = TV.MultiplyAdd(d, d, a0);
        }
        var s = TV.Sum(a0 + a1 + (a2 + a3));
        for (; i < n; i++)
            s += (p[i] - mu) * (p[i] - mu);
        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Squares<TV>(float* p, int n) where TV : unmanaged, ISimd<TV>
    {
        var w = TV.Width;
        var (a0, a1, a2, a3) = (TV.Zero, TV.Zero, TV.Zero, TV.Zero);
        var i = 0;
        for (; i <= n - 4 * w; i += 4 * w)
        {
            var (v0, v1, v2, v3) = (TV.Load(p + i), TV.Load(p + i + w), TV.Load(p + i + 2 * w), TV.Load(p + i + 3 * w));
            a0 = TV.MultiplyAdd(v0, v0, a0);
            a1 = TV.MultiplyAdd(v1, v1, a1);
            a2 = TV.MultiplyAdd(v2, v2, a2);
            a3 = TV.MultiplyAdd(v3, v3, a3);
        }
        for (; i <= n - w; i += w)
        {
            var v = TV.Load(p + i);
            a0 = TV.MultiplyAdd(v, v, a0);
        }
        var s = TV.Sum(a0 + a1 + (a2 + a3));
        for (; i < n; i++)
            s += p[i] * p[i];
        return s;
    }
}

/// <summary>Read-only rows of ones and zeros standing in for an absent gain or bias, so the kernels have one code path.</summary>
internal static unsafe class Filled
{
    private static readonly Lock Growing = new();
    private static float* _ones;
    private static float* _zeros;
    private static int _length;

    public static float* Ones(int n)
    {
        Ensure(n);
        return _ones;
    }

    public static float* Zeros(int n)
    {
        Ensure(n);
        return _zeros;
    }

    // Grows both rows to at least n; older, shorter rows stay allocated (a kernel may still be reading them).
    private static void Ensure(int n)
    {
        if (Volatile.Read(ref _length) >= n)
            return;
        lock (Growing)
        {
            if (_length >= n)
                return;
            var length = Math.Max(n, 2 * _length);
            var ones = (float*)NativeMemory.AlignedAlloc((nuint)length * sizeof(float), 64);
            var zeros = (float*)NativeMemory.AlignedAlloc((nuint)length * sizeof(float), 64);
            new Span<float>(ones, length).Fill(1f);
            new Span<float>(zeros, length).Clear();
            _ones = ones;
            _zeros = zeros;
            Volatile.Write(ref _length, length);
        }
    }
}
