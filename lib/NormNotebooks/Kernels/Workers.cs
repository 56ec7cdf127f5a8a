// SPDX-License-Identifier: MIT
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace NormNotebooks.Kernels;

/// <summary>Splits rows across threads: one contiguous range per worker.</summary>
internal static class Rows
{
    /// <summary>Below this many floats per worker a kernel stays on one thread: handing work to another thread costs 3 µs even
    /// on libtorch's own spinning threads, as much as a norm over 16,384 floats in cache.</summary>
    public const long MinFloatsPerWorker = 16_384;

    /// <summary>Runs <paramref name="body"/>(first, end, worker) over [0, rows) in at most <paramref name="threads"/> ranges of at least
    /// <see cref="MinFloatsPerWorker"/> floats (<paramref name="rowFloats"/> a row); returns how many ranges ran.</summary>
    public static int Split(long rows, int threads, Action<long, long, int> body, long rowFloats = MinFloatsPerWorker)
    {
        var workers = Count(rows, threads, rowFloats);
        if (workers == 1)
            body(0, rows, 0);
        else
            Workers.Run(workers, w => body(rows * w / workers, rows * (w + 1) / workers, w));
        return workers;
    }

    /// <summary>How many ranges <see cref="Split"/> makes of these rows.</summary>
    public static int Count(long rows, int threads, long rowFloats = MinFloatsPerWorker) =>
        (int)Math.Max(1, Math.Min(Math.Min(threads, rows), Math.Max(1, rows * Math.Max(1, rowFloats) / MinFloatsPerWorker)));
}

/// <summary>
/// Runs kernel work on libtorch's own OpenMP threads where libtorch brought GNU OpenMP (Linux: a <c>libgomp</c> in the process), through
/// <c>GOMP_parallel</c>, the entry point of GCC's <c>#pragma omp parallel</c>. A second pool of our own would compete for the cores with
/// libgomp's threads, which spin for milliseconds after every libtorch operation: measured here, <c>Parallel.For</c> costs 8–16 µs a
/// call and a kernel split across it ran slower than on one thread, while an empty <c>GOMP_parallel</c> region costs 3 µs. Elsewhere
/// (no libgomp loaded) the work goes to <see cref="Parallel.For(int, int, ParallelOptions, Action{int})"/>.
/// </summary>
internal static unsafe class Workers
{
    private static readonly Lazy<OpenMp?> Team = new(OpenMp.Find);

    /// <summary>Where the work runs: "libtorch's OpenMP threads" or ".NET thread pool".</summary>
    public static string Where => Team.Value is null ? ".NET thread pool" : "libtorch's OpenMP threads";

    /// <summary>Runs <paramref name="job"/>(w) for every w in [0, <paramref name="count"/>) in parallel and rethrows the first exception
    /// after every part has ended.</summary>
    public static void Run(int count, Action<int> job)
    {
        if (count <= 1)
        {
            for (var w = 0; w < count; w++)
                job(w);
            return;
        }
        if (Team.Value is not { } team)
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = count }, job);
            return;
        }
        var state = new Job(job, count);
        var handle = GCHandle.Alloc(state);
        try
        {
            team.Parallel(&Body, (void*)GCHandle.ToIntPtr(handle), (uint)count, 0);
        }
        finally
        {
            handle.Free();
        }
        if (state.Error is { } error)
            ExceptionDispatchInfo.Throw(error);
    }

    // Each thread of the team takes parts w = its number, + team size, …: the team may be smaller than asked (a call from inside
    // another parallel region gets a team of one).
    [UnmanagedCallersOnly]
    private static void Body(void* data)
    {
        var state = (Job)GCHandle.FromIntPtr((IntPtr)data).Target!;
        try
        {
            var team = Team.Value!;
            var (first, stride) = (team.ThreadNumber(), Math.Max(1, team.TeamSize()));
            for (var w = first; w < state.Count; w += stride)
                state.Action(w);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref state.Error, e, null);
        }
    }

    private sealed class Job(Action<int> action, int count)
    {
        public readonly Action<int> Action = action;
        public readonly int Count = count;
        public Exception? Error;
    }

    private sealed class OpenMp(IntPtr library)
    {
        public readonly delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> Parallel =
            (delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void>)NativeLibrary.GetExport(library, "GOMP_parallel");

        public readonly delegate* unmanaged<int> ThreadNumber = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "omp_get_thread_num");

        public readonly delegate* unmanaged<int> TeamSize = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "omp_get_num_threads");

        // The libgomp libtorch loaded (its file name carries a hash: libgomp-98b21ff3.so.1), found among the process's mappings.
        public static OpenMp? Find()
        {
            Runtime.TorchRuntime.EnsureLoaded();
            if (!OperatingSystem.IsLinux())
                return null;
            try
            {
                var path = File.ReadLines("/proc/self/maps")
                    .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
                    .Where(fields => fields.Length == 6 && Path.GetFileName(fields[5].Trim()).StartsWith("libgomp", StringComparison.Ordinal))
                    .Select(fields => fields[5].Trim())
                    .FirstOrDefault();
                return path is not null && NativeLibrary.TryLoad(path, out var library) ? new OpenMp(library) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or EntryPointNotFoundException)
            {
                return null;
            }
        }
    }
}
