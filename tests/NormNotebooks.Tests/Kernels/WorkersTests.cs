// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;

namespace NormNotebooks.Tests.Kernels;

/// <summary>The kernels' worker team: every part runs once, errors come back, nesting degrades to serial instead of losing parts.</summary>
public sealed class WorkersTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Run_RunsEveryPartExactlyOnce(int count)
    {
        var hits = new int[count];
        Workers.Run(count, w => Interlocked.Increment(ref hits[w]));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void OnLinux_TheWorkRunsOnLibtorchsOpenMpThreads()
    {
        if (!OperatingSystem.IsLinux())
            return;
        Assert.Equal("libtorch's OpenMP threads", Workers.Where);
        var threads = new int[2];
        Workers.Run(2, w => threads[w] = Environment.CurrentManagedThreadId);
        Assert.NotEqual(threads[0], threads[1]);
    }

    [Fact]
    public void AnExceptionInAnyPart_ReachesTheCaller_AfterEveryOtherPartRan()
    {
        var hits = new int[4];
        var error = Assert.Throws<InvalidOperationException>(() => Workers.Run(4, w =>
        {
            Interlocked.Increment(ref hits[w]);
            if (w == 2)
                throw new InvalidOperationException("part 2 failed");
        }));
        Assert.Equal("part 2 failed", error.Message);
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void ACallFromInsideAPart_StillRunsAllItsParts()
    {
        var inner = new int[2, 3];
        Workers.Run(2, outer => Workers.Run(3, w => Interlocked.Increment(ref inner[outer, w])));
        for (var outer = 0; outer < 2; outer++)
            for (var w = 0; w < 3; w++)
                Assert.Equal(1, inner[outer, w]);
    }

    [Fact]
    public void Rows_StayOnOneThreadBelowTheMinimumWork_AndCoverEveryRowOnce()
    {
        Assert.Equal(1, Rows.Split(100, 4, (_, _, _) => { }, rowFloats: 100));              // 10,000 floats: one worker
        var covered = new int[1000];
        var workers = Rows.Split(1000, 4, (first, end, _) =>
        {
            for (var r = first; r < end; r++)
                Interlocked.Increment(ref covered[r]);
        }, rowFloats: 512);
        Assert.Equal(4, workers);
        Assert.All(covered, c => Assert.Equal(1, c));
    }
}
