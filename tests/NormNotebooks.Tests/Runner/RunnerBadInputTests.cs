// SPDX-License-Identifier: MIT
using System.Text;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>Every kind of bad input gives a clear message, a non-zero exit, and leaves the file byte-identical.</summary>
public sealed class RunnerBadInputTests : IDisposable
{
    private const string Valid = """{"cells":[{"cell_type":"code","execution_count":null,"metadata":{},"outputs":[],"source":"1 + 1"}],"metadata":{},"nbformat":4,"nbformat_minor":5}""";

    private readonly NotebookScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static void AssertRejected(string path, params string[] expected)
    {
        var before = File.ReadAllBytes(path);
        var (exit, stdout, stderr) = Run(path);
        Assert.NotEqual(0, exit);
        foreach (var text in expected)
            Assert.Contains(text, stdout + stderr);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("malformed.ipynb", """{"cells": [""", "not valid JSON")]
    [InlineData("nbformat3.ipynb", """{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}""", "nbformat 3 is not supported")]
    [InlineData("nbformat5.ipynb", """{"nbformat": 5, "cells": []}""", "nbformat 5 is not supported")]
    [InlineData("no-cells.ipynb", """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}""", "'cells' is missing")]
    [InlineData("empty-cells.ipynb", """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}""", "has no cells")]
    [InlineData("bad-source.ipynb", """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": 42}]}""", "cell 1 has a 'source' that is a number")]
    [InlineData("bad-source-list.ipynb", """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": ["a", 1]}]}""", "cell 1 has a 'source' that is a list")]
    [InlineData("bad-type.ipynb", """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "heading", "source": ""}]}""", "cell 1 has cell_type 'heading'")]
    [InlineData("array.ipynb", """[1, 2, 3]""", "the top level must be a JSON object")]
    [InlineData("duplicate-key.ipynb", """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [], "cells": []}""", "not valid JSON (Duplicate property 'cells'")]
    [InlineData("empty.ipynb", "", "the file is empty")]
    public void MalformedNotebook_IsRejectedWithItsReason(string name, string content, string reason)
    {
        var path = _scratch.WriteText(name, content);
        AssertRejected(path, path, reason);
    }

    [Fact]
    public void BinaryGarbage_IsRejected()
    {
        var garbage = new byte[4096];
        new Random(5).NextBytes(garbage);
        var path = _scratch.WriteBytes("garbage.ipynb", garbage);
        AssertRejected(path, path, "not UTF-8");
    }

    [Fact]
    public void HugeCell_IsRejected()
    {
        var source = "var s = \"" + new string('x', 1_100_000) + "\";";
        var path = _scratch.Write("huge.ipynb", source);
        AssertRejected(path, "cell 1 holds 1,100,011 characters of source; the limit is 1,048,576");
    }

    [Fact]
    public void UnknownMagic_FailsTheCell()
    {
        var path = _scratch.Write("magic.ipynb", "#!frobnicate\n1");
        AssertRejected(path, "DirectiveError", "Cell 1, line 1", "(1,1): error DNI101: Unknown magic command '#!frobnicate'");
    }

    [Fact]
    public void CellForAKernelNormnbDoesNotHost_FailsNamingIt()
    {
        // The kernel packages carry C#, HTML, JavaScript and the value kernel; F# and PowerShell come with the tool only.
        var path = _scratch.Write("fsharp.ipynb", "#!fsharp\nlet x = 1");
        AssertRejected(path, "DirectiveError", "Unknown magic command '#!fsharp'");
    }

    [Fact]
    public void UnresolvablePackage_FailsNamingThePackage()
    {
        var path = _scratch.Write("nuget-missing.ipynb", "#r \"nuget: NormNotebooks.Does.Not.Exist.Anywhere, 1.2.3\"");
        AssertRejected(path, "PackageRestoreError", "Unable to find package NormNotebooks.Does.Not.Exist.Anywhere");
    }

    [Fact]
    public void InfiniteLoop_IsStoppedByTheTimeout()
    {
        var path = _scratch.Write("loop.ipynb", "var n = 0;\nwhile (true) { n++; }");
        var before = File.ReadAllBytes(path);
        var (exit, stdout, _) = Run(path, "--timeout", "3");
        Assert.NotEqual(0, exit);
        Assert.Contains("Cell 1 did not finish within 3 s; the notebook process was stopped", stdout);
        Assert.Equal(before, File.ReadAllBytes(path));
        var failed = Read(Path.Combine(_scratch.Folder, ".runs", "loop.failed.ipynb"));
        Assert.Equal("CellTimeout", (string?)failed["cells"]![0]!["outputs"]![0]!["ename"]);
    }

    [Fact]
    public void AKernelThatDoesNotStartInTime_IsStopped()
    {
        // Process start and the kernel's construction take over a second: with half a second, the first cell is never reached.
        var path = _scratch.Write("slow-start.ipynb", "1 + 1");
        var before = File.ReadAllBytes(path);
        var (exit, stdout, _) = Run(path, "--start-timeout", "0.5");
        Assert.Equal(1, exit);
        Assert.Contains("The notebook process did not start its first cell within 0.5 s (--start-timeout) and was stopped.", stdout);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void GigabytesToStdout_AreCappedWithANote()
    {
        var path = _scratch.Write("flood.ipynb", "var line = new string('x', 1 << 20);\nfor (var i = 0; i < 2048; i++) Console.WriteLine(line);");
        var before = File.ReadAllBytes(path);
        var (exit, stdout, _) = Run(path, "--max-output", "100000");
        Assert.NotEqual(0, exit);
        Assert.Contains("OutputLimitExceeded", stdout);
        Assert.Equal(before, File.ReadAllBytes(path));
        var failed = File.ReadAllText(Path.Combine(_scratch.Folder, ".runs", "flood.failed.ipynb"), Encoding.UTF8);
        Assert.Contains("[normnb: output truncated: cell 1 wrote more than 100,000 characters]", failed);
        Assert.True(failed.Length < 300_000, $"the saved notebook holds {failed.Length} characters");
        var outputs = (System.Text.Json.Nodes.JsonArray)Read(Path.Combine(_scratch.Folder, ".runs", "flood.failed.ipynb"))["cells"]![0]!["outputs"]!;
        Assert.Equal("OutputLimitExceeded", (string?)outputs[^1]!["ename"]);   // the name the README gives
    }

    [Theory]
    [InlineData("display(HTML(new string('x', 200_000)));", "a display")]
    [InlineData("new string('x', 200_000)", "its return value")]
    public void HugeDisplaysAndResults_CountTowardsTheCap_AndAreLeftOutWithANote(string source, string what)
    {
        var path = _scratch.Write("huge-output.ipynb", source);
        var (exit, stdout, _) = Run(path, "--max-output", "100000");
        Assert.NotEqual(0, exit);
        Assert.Contains($"last: {what}", stdout);
        var failed = File.ReadAllText(Path.Combine(_scratch.Folder, ".runs", "huge-output.failed.ipynb"), Encoding.UTF8);
        // 200,000 characters per MIME type: HTML alone, or HTML with its text/plain alternative.
        Assert.Matches(@"\[normnb: an output of [24]00,000 characters was left out: cell 1 went over 100,000 characters\]", failed);
        Assert.True(failed.Length < 50_000, $"the saved notebook holds {failed.Length} characters");
    }

    [Fact]
    public void ACellThatCatchesTheCapsException_StillFails()
    {
        var path = _scratch.Write("caught.ipynb", "try { Console.Write(new string('x', 200_000)); } catch (System.IO.IOException) { }\n\"went on\"");
        var (exit, stdout, _) = Run(path, "--max-output", "100000");
        Assert.NotEqual(0, exit);
        var failed = Read(Path.Combine(_scratch.Folder, ".runs", "caught.failed.ipynb"));
        Assert.Equal("OutputLimitExceeded", (string?)failed["cells"]![0]!["outputs"]!.AsArray().Last()!["ename"]);
    }

    [Fact]
    public void AnUpdatedDisplay_CostsWhatItHolds_NotEveryUpdate()
    {
        // 2,000 updates of a 100-character line: 200,000 characters sent, one line kept.
        var path = _scratch.Write("progress.ipynb", "var line = display(new string('-', 100));\nfor (var i = 0; i < 2000; i++) line.Update(new string((char)('a' + i % 26), 100));");
        var (exit, stdout, _) = Run(path, "--max-output", "100000");
        Assert.True(exit == 0, stdout);
    }

    [Fact]
    public void ANonPositiveCap_IsAUsageError()
    {
        var path = _scratch.Write("cap.ipynb", "1");
        var (exit, _, stderr) = Run(path, "--max-output", "0");
        Assert.Equal(2, exit);
        Assert.Contains("--max-output must be positive", stderr);
    }

    [Fact]
    public void AnExceptionInAMethodOfAnEarlierCell_NamesBothCells()
    {
        var path = _scratch.Write("two-cells.ipynb", "void Boom() =>\n    throw new InvalidOperationException(\"from cell 1\");", "var x = 1;\nBoom();");
        var (exit, stdout, _) = Run(path);
        Assert.NotEqual(0, exit);
        Assert.Contains("Cell 2 (in code from cell 1, line 2): System.InvalidOperationException: from cell 1", stdout);
    }

    [Fact]
    public void ALongLine_IsClippedInTheLog_AndKeptWholeInTheNotebook()
    {
        var path = _scratch.Write("long-line.ipynb", "Console.WriteLine(new string('y', 100_000));");
        var (exit, stdout, _) = Run(path);
        Assert.True(exit == 0, stdout);
        Assert.Contains("… (99,500 more characters)", stdout);
        Assert.True(stdout.Length < 10_000, $"the log holds {stdout.Length} characters");
        Assert.Contains(new string('y', 100_000), File.ReadAllText(path, Encoding.UTF8));
    }

    [Fact]
    public void ANotebookOfAnotherLanguage_IsRefusedNamingItsKernel()
    {
        // "1 + 1" is Python as well as C#: it used to run as C#.
        var path = _scratch.WriteText("python.ipynb", """
            {"cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "1 + 1"}],
             "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 4}
            """);
        AssertRejected(path, $"{path}: the notebook's kernel is 'python3' (metadata.kernelspec.name); normnb runs C# notebooks");
    }

    [Theory]
    [InlineData("int Depth(int n) => Depth(n + 1) + 1;\nDepth(0)", "exit code 134, stack overflow or abort (SIGABRT)")]
    [InlineData("System.Diagnostics.Process.GetCurrentProcess().Kill();", "exit code 137, killed (SIGKILL), probably out of memory")]
    public void ACrashOfTheNotebookProcess_IsExplained(string source, string explanation)
    {
        var path = _scratch.Write("crash.ipynb", source);
        AssertRejected(path, $"The notebook process ended unexpectedly during cell 1: {explanation}.");
    }

    [Fact]
    public void MissingPath_IsAUsageError()
    {
        var (exit, _, stderr) = Run(Path.Combine(_scratch.Folder, "nope.ipynb"));
        Assert.Equal(2, exit);
        Assert.Contains("is neither a notebook nor a folder", stderr);
    }

    [Fact]
    public void AFolderWithoutNotebooks_IsAUsageError()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_scratch.Folder, "empty")).FullName;
        var (exit, _, stderr) = Run(folder);
        Assert.Equal(2, exit);
        Assert.Contains($"'{folder}' is a folder without notebooks (*.ipynb).", stderr);
    }

    [Fact]
    public void FailedRun_NeverClobbersTheSource_AndASuccessfulRunWritesInPlace()
    {
        var failing = _scratch.Write("fails.ipynb", "Console.WriteLine(\"ran\");", "throw new Exception(\"stop here\");", "Console.WriteLine(\"not reached\");");
        AssertRejected(failing, "stop here");
        var partial = Read(Path.Combine(_scratch.Folder, ".runs", "fails.failed.ipynb"));
        Assert.Equal("ran\n", Text(partial["cells"]![0]!["outputs"]![0]!["text"]));
        Assert.Empty((System.Text.Json.Nodes.JsonArray)partial["cells"]![2]!["outputs"]!);   // stopped at the first error

        var passing = _scratch.WriteText("passes.ipynb", Valid);
        var (exit, stdout, stderr) = Run(passing);
        Assert.True(exit == 0, stdout + stderr);
        var written = Read(passing);
        Assert.Equal("2", Text(written["cells"]![0]!["outputs"]![0]!["data"]!["text/plain"]));
        Assert.Empty(Directory.GetFiles(_scratch.Folder, ".*.tmp"));
    }
}
