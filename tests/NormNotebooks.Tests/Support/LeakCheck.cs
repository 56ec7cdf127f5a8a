// SPDX-License-Identifier: MIT
using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Support;

/// <summary>
/// Runs a forward through a custom autograd function and its backward many times, each in its own dispose scope, and asserts
/// that nothing outlives the scopes: no tensor (TorchSharp's exact per-thread live count), no autograd node of the function
/// (with its saved tensors), and no native heap growth beyond a bar measured without a leak.
/// </summary>
internal static class LeakCheck
{
    /// <summary>Forward and backward passes after the warm-up; a leak of one tensor per pass shows as a count of this size.</summary>
    public const int Iterations = 200;

    /// <summary>Passes before the baseline, so that state created once (parameter gradients, a layer's last-batch statistics) is not counted.</summary>
    private const int WarmupIterations = 10;

    /// <summary>
    /// Growth allowed in glibc's in-use heap (mallinfo2: uordblks + hblkhd, where libtorch's CPU allocator takes its memory) over
    /// <see cref="Iterations"/> passes. Measured without a leak on the four functions' tests ([256, 511] float32 inputs): −3.8 to
    /// +3.1 MiB. Holding on to one such input (0.5 MiB) per pass adds 100 MiB (measured: 98 to 101 MiB); the bar sits at a quarter of
    /// that, about six times the noise. (An unreferenced leaked tensor may be freed by its finalizer first; the tensor count sees it.)
    /// </summary>
    private const long NativeHeapBar = 25L << 20;

    /// <summary>Asserts that <paramref name="forward"/> (which must return an output of the custom autograd function
    /// <paramref name="function"/>, by its class name) followed by a backward of Σ output² leaks nothing, <see cref="Iterations"/> times.</summary>
    public static void AssertNoLeaks(string function, Func<Tensor> forward)
    {
        for (var i = 0; i < WarmupIterations; i++)
            Pass(function, forward);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var (tensors, nodes, heap) = (DisposeScopeManager.Statistics.ThreadTotalLiveCount, LiveNodes(null), NativeHeapInUse());
        for (var i = 0; i < Iterations; i++)
            Pass(function, forward);
        var (tensorGrowth, nodeGrowth, heapGrowth) = (DisposeScopeManager.Statistics.ThreadTotalLiveCount - tensors, LiveNodes(null) - nodes, NativeHeapInUse() - heap);
        Assert.True(tensorGrowth == 0 && nodeGrowth == 0 && heapGrowth <= NativeHeapBar,
            $"{function}, {Iterations} forward and backward passes: {tensorGrowth} more live tensors, {nodeGrowth} more live autograd nodes, " +
            $"native heap {heapGrowth / 1048576.0:+0.0;-0.0} MiB (allowed: 0, 0, {NativeHeapBar >> 20} MiB)");
    }

    private static void Pass(string function, Func<Tensor> forward)
    {
        using var scope = NewDisposeScope();
        var output = forward();
        Assert.True(LiveNodes(function) > 0, $"the output did not come through {function}, so this test would check nothing");
        output.square().sum().backward();
    }

    // TorchSharp 0.107 keeps each custom function's node in the private static list autograd.Node.AliveNodes (AutogradFunction.cs)
    // from its forward until libtorch deletes the node, which also frees the tensors it saved for backward.
    private static int LiveNodes(string? function)
    {
        var field = typeof(autograd).GetNestedType("Node", BindingFlags.NonPublic)?.GetField("AliveNodes", BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException("TorchSharp's autograd.Node.AliveNodes is gone: update LeakCheck for this TorchSharp version.");
        var nodes = (IList)field.GetValue(null)!;
        lock (nodes)
            return nodes.Cast<object>().Count(node => function is null || node.GetType().GetGenericArguments()[0].Name == function);
    }

    private static long NativeHeapInUse()
    {
        if (!OperatingSystem.IsLinux())
            return 0;   // glibc's counters only; the tensor and node counts still apply elsewhere
        var info = MallInfo2();
        return (long)(info.Uordblks + info.Hblkhd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallInfo
    {
        public readonly nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc.so.6", EntryPoint = "mallinfo2")]
    private static extern MallInfo MallInfo2();
}
