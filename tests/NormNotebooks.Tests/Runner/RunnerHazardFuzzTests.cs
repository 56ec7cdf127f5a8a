// SPDX-License-Identifier: MIT
using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>
/// Random combinations of what happens around a real run — the notebook is a symlink, is read-only, is edited while it runs, a cell
/// floods its output, a cell throws, the run gets SIGTERM — and the invariants that must hold whatever the combination: the user's
/// notebook is never lost (untouched, or the user's own edit, or replaced by exactly its own re-executed outputs), a symlink stays
/// a link, results that could not go in place are somewhere named, and the exit code says which (issue 15).
/// </summary>
[UnsupportedOSPlatform("windows")]   // symlinks, file modes, /proc and SIGTERM
public sealed class RunnerHazardFuzzTests
{
    internal const int Cases = 16;

    private sealed record Hazards(bool Symlink, bool ReadOnly, bool Edit, bool Flood, bool Throw, bool Signal);

    [Fact]
    public void RandomHazards_NeverLoseTheNotebook_AndTheExitCodeSaysWhatHappened()
    {
        var random = new Random(2026_12_01);
        var all = new List<Hazards>();
        for (var i = 0; i < Cases; i++)
        {
            var hazards = new Hazards(random.Next(2) == 0, random.Next(4) == 0, random.Next(2) == 0, random.Next(4) == 0, random.Next(4) == 0, random.Next(4) == 0);
            all.Add(hazards);
            Check(hazards);
        }
        // The seed gives every hazard at least once, with and without the others.
        Assert.Contains(all, h => h.Symlink);
        Assert.Contains(all, h => h.ReadOnly);
        Assert.Contains(all, h => h.Edit && !h.ReadOnly && !h.Flood && !h.Throw && !h.Signal);
        Assert.Contains(all, h => h.Flood && !h.ReadOnly);
        Assert.Contains(all, h => h.Throw && !h.ReadOnly && !h.Flood);
        Assert.Contains(all, h => h.Signal && !h.ReadOnly && !h.Flood && !h.Throw);
        Assert.Contains(all, h => h == new Hazards(false, false, false, false, false, false) || (!h.ReadOnly && !h.Edit && !h.Flood && !h.Throw && !h.Signal));
    }

    private static void Check(Hazards h)
    {
        using var scratch = new NotebookScratch();
        var real = Directory.CreateDirectory(Path.Combine(scratch.Folder, "real")).FullName;
        var target = Path.Combine(real, "nb.ipynb");
        var name = h.Symlink ? "link.ipynb" : "nb.ipynb";   // what the run is given; the cells run in its folder
        var cells = new List<JsonObject> { MarkdownCell("m", "first draft") };
        // The cells play the user and the world: each hazard is a cell, in the order they would stop the run.
        if (h.Edit)
            cells.Add(CodeCell("edit", $"var file = \"{name}\";\nSystem.IO.File.WriteAllText(file, System.IO.File.ReadAllText(file).Replace(\"first \" + \"draft\", \"second draft\"));"));
        cells.Add(CodeCell("out", h.Flood ? "Console.Write(new string('x', 200_000));" : "Console.WriteLine(\"some output\");"));
        if (h.Throw)
            cells.Add(CodeCell("throw", "throw new InvalidOperationException(\"deliberate\");"));
        if (h.Signal)   // SIGTERM to normnb, the notebook process's parent
            cells.Add(CodeCell("signal", "var ppid = System.IO.File.ReadAllText(\"/proc/self/stat\").Split(' ')[3];\nSystem.Diagnostics.Process.Start(\"kill\", \"-TERM \" + ppid)!.WaitForExit();\nSystem.Threading.Thread.Sleep(60_000);"));
        cells.Add(CodeCell("last", "6 * 7"));
        File.Move(scratch.WriteCells("nb.ipynb", [.. cells]), target);
        var path = target;
        if (h.Symlink)
        {
            path = Path.Combine(scratch.Folder, name);
            File.CreateSymbolicLink(path, Path.Combine("real", "nb.ipynb"));
        }
        if (h.ReadOnly)
            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var original = File.ReadAllText(target);
        var edited = original.Replace("first draft", "second draft", StringComparison.Ordinal);

        var (exit, stdout, stderr) = Run(path, "--max-output", "100000");
        var log = $"{h}\n{stdout}{stderr}";
        var now = File.ReadAllText(target);
        if (h.Symlink)
            Assert.True(new FileInfo(path).LinkTarget == Path.Combine("real", "nb.ipynb"), log);
        Assert.DoesNotContain("Unhandled exception", log);

        var runs = Path.Combine(Path.GetDirectoryName(path)!, ".runs");
        if (h.ReadOnly)
        {
            Assert.True(exit == 1 && now == original, log);   // refused before it runs: nothing to lose
            Assert.Contains("is read-only", stdout);
            return;
        }
        var afterUser = h.Edit ? edited : original;
        var failure = h.Flood ? "OutputLimitExceeded" : h.Throw ? "System.InvalidOperationException" : h.Signal ? "Interrupted" : null;
        if (failure is not null)
        {
            Assert.True(now == afterUser, log);   // a failed run never touches the notebook
            Assert.True(exit == (failure == "Interrupted" ? 143 : 1), log);
            var failed = Read(Path.Combine(runs, Path.GetFileNameWithoutExtension(path) + ".failed.ipynb"));
            Assert.Contains(failed["cells"]!.AsArray().SelectMany(c => c!["outputs"]?.AsArray() ?? []),
                o => (string?)o!["ename"] == failure);
        }
        else if (h.Edit)
        {
            Assert.True(now == edited && exit == 1, log);   // the user's edit wins; the results go beside it
            Assert.Equal("42", Text(Outputs(Read(Path.Combine(runs, Path.GetFileNameWithoutExtension(path) + ".conflict.ipynb")), "last").Last()!["data"]!["text/plain"]));
        }
        else
        {
            Assert.True(exit == 0, log);
            Assert.Equal("42", Text(Outputs(Read(target), "last").Last()!["data"]!["text/plain"]));
        }
        Assert.True(File.Exists(Path.Combine(runs, Path.GetFileNameWithoutExtension(path) + ".run.json")), log);
    }
}
