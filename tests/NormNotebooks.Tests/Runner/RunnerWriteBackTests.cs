// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>
/// Where the results of a run go, and what is never overwritten: an earlier run's outputs in the cells a failed run did not
/// reach (issue 15).
/// </summary>
public sealed class RunnerWriteBackTests : IDisposable
{
    private readonly NotebookScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void TheFailedCopy_ClearsTheCellsThisRunDidNotReach()
    {
        var path = _scratch.WriteCells("mixed.ipynb",
            CodeCell("a", "Console.WriteLine(\"this run\");", executionCount: 7, earlierStdout: "earlier run\n"),
            CodeCell("b", "throw new Exception(\"stop here\");", executionCount: 8, earlierStdout: "earlier run\n"),
            CodeCell("c", "Console.WriteLine(\"not reached\");", executionCount: 9, earlierStdout: "earlier run\n"));

        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 1, stdout + stderr);
        var cells = (JsonArray)Read(Path.Combine(_scratch.Folder, ".runs", "mixed.failed.ipynb"))["cells"]!;
        Assert.Equal(1, (int?)cells[0]!["execution_count"]);
        Assert.Equal("this run\n", Text(cells[0]!["outputs"]![0]!["text"]));
        Assert.Equal(2, (int?)cells[1]!["execution_count"]);
        Assert.Equal("error", (string?)Assert.Single((JsonArray)cells[1]!["outputs"]!)!["output_type"]);
        Assert.Null(cells[2]!["execution_count"]);
        Assert.Empty((JsonArray)cells[2]!["outputs"]!);
    }
}
