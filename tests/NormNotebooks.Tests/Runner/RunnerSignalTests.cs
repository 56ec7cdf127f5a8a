// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>How a run ends when it is told to stop, or when a cell leaves a thread running (issue 15, items 2 and 3).</summary>
public sealed class RunnerSignalTests : IDisposable
{
    private readonly NotebookScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void AForegroundThreadThatNeverEnds_DoesNotHoldTheRun()
    {
        var path = _scratch.Write("thread.ipynb", "new System.Threading.Thread(() => { while (true) System.Threading.Thread.Sleep(100); }).Start();\n\"started\"");
        var clock = Stopwatch.StartNew();
        var (exit, stdout, _) = Run(path);
        Assert.True(exit == 0, stdout);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"the run took {clock.Elapsed.TotalSeconds:0} s");
        Assert.Equal("started", Text(Read(path)["cells"]![0]!["outputs"]![0]!["data"]!["text/plain"]));
    }

    [Theory]
    [InlineData("TERM", 143)]
    [InlineData("INT", 130)]
    public void AStopSignal_EndsTheNotebookProcess_SavesWhatRan_AndStartsNoFurtherNotebook(string signal, int expectedExit)
    {
        var pidFile = Path.Combine(_scratch.Folder, "notebook.pid");
        var first = _scratch.Write("a-long.ipynb",
            "Console.WriteLine(\"first cell ran\");",
            $"System.IO.File.WriteAllText(@\"{pidFile}\", Environment.ProcessId.ToString());\nSystem.Threading.Thread.Sleep(600_000);");
        var before = File.ReadAllBytes(first);
        _scratch.Write("b-next.ipynb", "Console.WriteLine(\"must not run\");");

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "normnb.dll"), "run", _scratch.Folder })
            start.ArgumentList.Add(arg);
        using var normnb = Process.Start(start)!;
        var stdout = new System.Text.StringBuilder();
        normnb.OutputDataReceived += (_, e) =>
        {
            lock (stdout)
                stdout.AppendLine(e.Data);
        };
        normnb.ErrorDataReceived += (_, _) => { };
        normnb.BeginOutputReadLine();
        normnb.BeginErrorReadLine();
        try
        {
            // The pid file is written as cell 2 starts; wait for both.
            var clock = Stopwatch.StartNew();
            while (!File.Exists(pidFile) && clock.Elapsed < TimeSpan.FromSeconds(120))
                Thread.Sleep(100);
            Assert.True(File.Exists(pidFile), "cell 2 never started");
            Thread.Sleep(300);
            using (var kill = Process.Start("kill", ["-" + signal, normnb.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                kill.WaitForExit();
            Assert.True(normnb.WaitForExit(30_000), "normnb did not end within 30 s of the signal");
            normnb.WaitForExit();
        }
        finally
        {
            if (!normnb.HasExited)
                normnb.Kill(entireProcessTree: true);
        }

        string log;
        lock (stdout)
            log = stdout.ToString();
        Assert.Equal(expectedExit, normnb.ExitCode);
        Assert.Contains($"■ stopped by SIG{signal}: 1 notebook(s) not run", log);
        Assert.DoesNotContain("must not run", log);
        var notebookPid = int.Parse(File.ReadAllText(pidFile), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(IsGone(notebookPid), $"the notebook process {notebookPid} is still running");
        Assert.Equal(before, File.ReadAllBytes(first));   // a failed run never touches the source
        var failed = Read(Path.Combine(_scratch.Folder, ".runs", "a-long.failed.ipynb"));
        Assert.Equal("first cell ran\n", Text(failed["cells"]![0]!["outputs"]![0]!["text"]));
        Assert.Equal("Interrupted", (string?)failed["cells"]![1]!["outputs"]!.AsArray().Last()!["ename"]);
        var summary = Read(Path.Combine(_scratch.Folder, ".runs", "a-long.run.json"));
        Assert.Contains("Interrupted during cell 2", (string?)summary["error"]);
        Assert.False(File.Exists(Path.Combine(_scratch.Folder, ".runs", "b-next.run.json")));
    }

    private static bool IsGone(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}
