// SPDX-License-Identifier: MIT
using NormNotebooks.Training;

namespace NormNotebooks.Tests.Training;

public sealed class RunMonitorTests
{
    [Fact]
    public void NotFinite_NamesEveryValue_OnlyWhenOneIsNotFinite()
    {
        Assert.Null(RunMonitor.NotFinite(3, ("loss", 2.5), ("gradient norm", 1e30)));
        Assert.Equal("step 7: discriminator loss 0.5, generator loss NaN (not finite)",
            RunMonitor.NotFinite(7, ("discriminator loss", 0.5), ("generator loss", double.NaN)));
        Assert.Equal("step 0: loss Infinity (not finite)", RunMonitor.NotFinite(0, ("loss", double.PositiveInfinity)));
    }

    [Fact]
    public void StepDone_ReportsCountsLossesAndAPositiveThroughput()
    {
        var heard = new List<TrainingProgress>();
        var monitor = new RunMonitor("run", 4, 32, "samples", heard.Add);
        Thread.Sleep(5);
        monitor.StepDone(1, 2.0, null);
        monitor.StepDone(2, 1.5, 1.7);
        Assert.Equal([1, 2], heard.Select(p => p.Step));
        Assert.All(heard, p => Assert.Equal(4, p.Steps));
        Assert.Equal([2.0, 1.5], heard.Select(p => p.Loss));
        Assert.Equal(1.7, heard[1].ValidationLoss);
        Assert.All(heard, p => Assert.True(p.Throughput > 0 && p.Unit == "samples" && p.Name == "run"));
        new RunMonitor("silent", 4, 32, "samples", null).StepDone(1, 1, null);   // no listener: nothing to call
    }
}
