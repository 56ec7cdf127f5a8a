// SPDX-License-Identifier: MIT
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>
/// Where the results of a run go, and what is never overwritten: an edit made during the run, a read-only file or folder, a
/// symlink, another notebook of the run, and an earlier run's outputs in the cells a failed run did not reach (issue 15).
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed partial class RunnerWriteBackTests : IDisposable
{
    private const UnixFileMode ReadOnlyFile = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode ReadOnlyFolder = ReadOnlyFile | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    private readonly NotebookScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static string TextPlain(string notebook, int cell) => Text(Read(notebook)["cells"]![cell]!["outputs"]![0]!["data"]!["text/plain"]);

    /// <summary>The path after "results in " in the runner's output.</summary>
    private static string ResultsPath(string stdout)
    {
        var match = ResultsIn().Match(stdout);
        Assert.True(match.Success, $"no 'results in PATH' in:\n{stdout}");
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"results in (\S+\.ipynb)")]
    private static partial Regex ResultsIn();

    [Fact]
    public void AnEditSavedWhileTheNotebookRuns_IsKept_AndTheResultsGoToAConflictCopy()
    {
        // The cell plays the user: it saves an edit to its own notebook while the run is under way.
        var path = _scratch.WriteCells("edited.ipynb",
            MarkdownCell("m", "first draft"),
            CodeCell("c", "var file = \"edited.ipynb\";\nSystem.IO.File.WriteAllText(file, System.IO.File.ReadAllText(file).Replace(\"first \" + \"draft\", \"second draft\"));\n6 * 7"));
        var edited = File.ReadAllText(path).Replace("first draft", "second draft", StringComparison.Ordinal);

        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 1, stdout + stderr);
        Assert.Equal(edited, File.ReadAllText(path));
        var conflict = Path.Combine(_scratch.Folder, ".runs", "edited.conflict.ipynb");
        Assert.Contains($"{path} changed on disk during the run and is left as it is; results in {conflict}", stdout);
        Assert.Equal("42", TextPlain(conflict, 1));
        Assert.Equal("first draft", Text(Read(conflict)["cells"]![0]!["source"]));
    }

    [Fact]
    public void ASymlinkedNotebook_UpdatesItsTarget_AndStaysALink()
    {
        Directory.CreateDirectory(Path.Combine(_scratch.Folder, "real"));
        var target = Path.Combine(_scratch.Folder, "real", "target.ipynb");
        File.Move(_scratch.Write("target.ipynb", "1 + 1"), target);
        var link = Path.Combine(_scratch.Folder, "link.ipynb");
        File.CreateSymbolicLink(link, Path.Combine("real", "target.ipynb"));

        var (exit, stdout, stderr) = Run(link);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(Path.Combine("real", "target.ipynb"), new FileInfo(link).LinkTarget);
        Assert.Equal("2", TextPlain(target, 0));
        Assert.Empty(Directory.GetFiles(Path.Combine(_scratch.Folder, "real"), ".*.tmp"));
    }

    [Fact]
    public void AReadOnlyNotebook_IsRefused_AndKeepsItsBytesAndMode()
    {
        var path = _scratch.Write("readonly.ipynb", "1 + 1");
        File.SetUnixFileMode(path, ReadOnlyFile);
        var before = File.ReadAllBytes(path);

        var (exit, stdout, _) = Run(path);
        Assert.Equal(1, exit);
        Assert.Contains($"{path} is read-only (mode 0444)", stdout);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(ReadOnlyFile, File.GetUnixFileMode(path));
    }

    [Fact]
    public void AWritableNotebook_KeepsItsMode()
    {
        var path = _scratch.Write("private.ipynb", "1 + 1");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal("2", TextPlain(path, 0));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public void ANotebookInAReadOnlyFolder_Runs_AndSaysInOneLineWhereItsResultsWent()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_scratch.Folder, "locked")).FullName;
        var path = _scratch.Write(Path.Combine("locked", "locked.ipynb"), "1 + 1");
        var before = File.ReadAllBytes(path);
        File.SetUnixFileMode(folder, ReadOnlyFolder);
        string? results = null;
        try
        {
            var (exit, stdout, stderr) = Run(path);
            Assert.True(exit == 1, stdout + stderr);
            Assert.DoesNotContain("Unhandled exception", stdout + stderr);   // no stack trace
            results = ResultsPath(stdout);
            Assert.Contains($"cannot write in {folder} (read-only: mode 0555); results in {results}", stdout);
            Assert.StartsWith(Path.GetTempPath(), results);
            Assert.Equal("2", TextPlain(results, 0));
            Assert.True(File.Exists(Path.ChangeExtension(results, ".run.json")));
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal(["locked.ipynb"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName));
        }
        finally
        {
            File.SetUnixFileMode(folder, ReadOnlyFolder | UnixFileMode.UserWrite);
            if (results is not null && results.StartsWith(Path.GetTempPath(), StringComparison.Ordinal))
                Directory.Delete(Path.GetDirectoryName(results)!, recursive: true);
        }
    }

    [Fact]
    public void AFailedCopyWhoseFolderCannotBeMade_GoesElsewhere_WithoutAStackTrace()
    {
        var path = _scratch.Write("blocked.ipynb", "throw new Exception(\"stop here\");");
        _scratch.WriteText(".runs", "a file where the runner's folder would go");

        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 1, stdout + stderr);
        Assert.DoesNotContain("Unhandled exception", stdout + stderr);
        var results = ResultsPath(stdout);
        try
        {
            Assert.EndsWith("blocked.failed.ipynb", results);
            Assert.Equal("stop here", (string?)Read(results)["cells"]![0]!["outputs"]![0]!["evalue"]);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(results)!, recursive: true);
        }
    }

    [Theory]
    [InlineData(".")]        // the notebook's own folder
    [InlineData("alias")]    // a symlink to it
    public void OutputNamingTheNotebooksOwnFolder_IsRefused_AndTheSourceStaysByteIdentical(string output)
    {
        var path = _scratch.Write("own.ipynb", "throw new Exception(\"fails\");");
        Directory.CreateSymbolicLink(Path.Combine(_scratch.Folder, "alias"), _scratch.Folder);
        var before = File.ReadAllBytes(path);

        var (exit, stdout, stderr) = Run(path, "--output", Path.Combine(_scratch.Folder, output));
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"--output {Path.Combine(_scratch.Folder, output)} would overwrite {path}", stderr);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(Directory.Exists(Path.Combine(_scratch.Folder, ".runs")));   // nothing ran
    }

    [Fact]
    public void OutputNamingTheFolderOfAnotherNotebookOfTheRun_IsRefused()
    {
        var first = Path.Combine(Directory.CreateDirectory(Path.Combine(_scratch.Folder, "a")).FullName, "same.ipynb");
        var second = Path.Combine(Directory.CreateDirectory(Path.Combine(_scratch.Folder, "b")).FullName, "same.ipynb");
        File.Move(_scratch.Write("one.ipynb", "1"), first);
        File.Move(_scratch.Write("two.ipynb", "2"), second);
        var before = File.ReadAllBytes(second);

        var (exit, stdout, stderr) = Run(first, second, "--output", Path.Combine(_scratch.Folder, "b"));
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"would overwrite {second}", stderr);
        Assert.Equal(before, File.ReadAllBytes(second));

        (exit, stdout, stderr) = Run(first, second, "--output", Path.Combine(_scratch.Folder, "out"));
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"{first} and {second} would both be written to {Path.Combine(_scratch.Folder, "out", "same.ipynb")}", stderr);
    }

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
