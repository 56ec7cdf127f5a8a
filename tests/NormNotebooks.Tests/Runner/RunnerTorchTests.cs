// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>TorchSharp inside a notebook: #r "nuget: TorchSharp-cpu" plus the library loads natively (patched where needed), and tensors display abbreviated.</summary>
public sealed class RunnerTorchTests
{
    [Fact]
    public void TorchSharpInANotebook_LoadsAndDisplaysTensors()
    {
        using var scratch = new NotebookScratch();
        var source = scratch.Copy("torch.ipynb");
        Directory.CreateDirectory(Path.Combine(scratch.Folder, "lib"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "NormNotebooks.dll"), Path.Combine(scratch.Folder, "lib", "NormNotebooks.dll"));
        var (exit, stdout, stderr) = Run(source, "--output", Path.Combine(scratch.Folder, "out"));
        Assert.True(exit == 0, stdout + stderr);
        var notebook = Read(Path.Combine(scratch.Folder, "out", "torch.ipynb"));

        var route = Text(Outputs(notebook, "x-load").Last()!["data"]!["text/plain"]);
        Assert.Equal(TorchRuntime.EnsureLoaded().Path, route);   // the same decision as in this test process
        Assert.Equal("[2x3], type = Int64, device = cpu\n 0 1 2\n 3 4 5\n", Text(Outputs(notebook, "x-small")[0]!["data"]!["text/plain"]));

        var large = Text(Outputs(notebook, "x-large")[0]!["data"]!["text/plain"]);
        Assert.StartsWith("[1000x1000], type = Float32, device = cpu\n(first 6 entries along each axis of 1000x1000; 1,000,000 values in all)\n", large);
        Assert.Equal(2 + 6, large.TrimEnd('\n').Split('\n').Length);
        Assert.StartsWith("<div><pre>[1000x1000]", Text(Outputs(notebook, "x-large")[0]!["data"]!["text/html"]));
    }
}
