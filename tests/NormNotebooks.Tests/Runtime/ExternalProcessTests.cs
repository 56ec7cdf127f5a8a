// SPDX-License-Identifier: MIT
using System.Diagnostics;
using NormNotebooks.Runtime;

namespace NormNotebooks.Tests.Runtime;

public sealed class ExternalProcessTests
{
    [Fact]
    public void Run_PassesEachArgumentWhole_AndKeepsBothStreams()
    {
        var result = ExternalProcess.Run("sh", ["-c", "printf '%s|' \"$@\"; echo oops >&2; exit 3", "sh", "a b", "it's", "$HOME"], TimeSpan.FromSeconds(30));
        Assert.Equal(3, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.Equal("a b|it's|$HOME|", result.Stdout);   // no shell between us and the program: nothing split or expanded
        Assert.Equal("oops\n", result.Stderr);
    }

    [Fact]
    public void Run_WritesStandardInput_ThenClosesIt_SoAPromptSeesEndOfFile()
    {
        Assert.Equal("hello\n", ExternalProcess.Run("cat", [], TimeSpan.FromSeconds(30), standardInput: "hello\n").Stdout);
        var prompt = ExternalProcess.Run("sh", ["-c", "read answer; echo \"got '$answer'\""], TimeSpan.FromSeconds(30));
        Assert.True(prompt.Succeeded);
        Assert.Equal("got ''\n", prompt.Stdout);
    }

    [Fact]
    public void Run_DrainsLargeOutput_WithoutBlocking()
    {
        var result = ExternalProcess.Run("sh", ["-c", "head -c 3000000 /dev/zero | tr '\\0' x; head -c 3000000 /dev/zero | tr '\\0' y >&2"], TimeSpan.FromSeconds(60));
        Assert.True(result.Succeeded);
        Assert.Equal(3_000_000, result.Stdout.Length);
        Assert.Equal(3_000_000, result.Stderr.Length);
    }

    [Fact]
    public void Run_KillsTheProgramAndItsChildren_AtTheTimeout()
    {
        var clock = Stopwatch.StartNew();
        var result = ExternalProcess.Run("sh", ["-c", "sleep 60 & echo $!; wait"], TimeSpan.FromSeconds(1));
        Assert.True(result.TimedOut);
        Assert.Equal(-1, result.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        var child = int.Parse(result.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Thread.Sleep(200);
        Assert.False(File.Exists($"/proc/{child}/status") && !File.ReadAllText($"/proc/{child}/status").Contains("zombie"), $"child {child} still runs");
    }

    [Fact]
    public void Run_SetsEnvironmentAndWorkingDirectory_AndAMissingProgramThrows()
    {
        var folder = Directory.CreateTempSubdirectory("normnb-process-").FullName;
        try
        {
            var result = ExternalProcess.Run("sh", ["-c", "echo \"$NORMNB_PROBE $(pwd)\""], TimeSpan.FromSeconds(30), workingDirectory: folder,
                environment: new Dictionary<string, string> { ["NORMNB_PROBE"] = "set" });
            Assert.Equal($"set {folder}\n", result.Stdout);
        }
        finally
        {
            Directory.Delete(folder);
        }
        Assert.Throws<System.ComponentModel.Win32Exception>(() => ExternalProcess.Run("normnb-no-such-program", [], TimeSpan.FromSeconds(5)));
        Assert.True(ExternalProcess.OnPath("sh"));
        Assert.False(ExternalProcess.OnPath("normnb-no-such-program"));
    }
}
