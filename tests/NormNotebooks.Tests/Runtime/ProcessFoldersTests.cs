// SPDX-License-Identifier: MIT
using NormNotebooks.Runner;
using ProcessFolders = NormNotebooks.Runtime.ProcessFolders;

namespace NormNotebooks.Tests.Runtime;

/// <summary>Folders left by killed processes are swept; those of running processes and foreign names are kept.</summary>
public sealed class ProcessFoldersTests : IDisposable
{
    private readonly DirectoryInfo _parent = Directory.CreateTempSubdirectory("normnb-sweep-test-");

    public void Dispose() => _parent.Delete(recursive: true);

    private string Make(string name)
    {
        var path = Path.Combine(_parent.FullName, name);
        Directory.CreateDirectory(Path.Combine(path, "inside"));
        return path;
    }

    [Fact]
    public void Sweep_DeletesTheFoldersOfEndedProcesses_Only()
    {
        var dead = Make("normnb-chromium-99999999-abc");          // no such process (above Linux's pid_max)
        var mine = Make($"normnb-chromium-{Environment.ProcessId}-abc");
        var pidOne = Make("normnb-chromium-1-abc");   // pid 1 always runs
        var foreign = Make("normnb-chromium-profile");
        Assert.Equal(1, ProcessFolders.Sweep(_parent.FullName, "normnb-chromium-", "-"));
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(mine) && Directory.Exists(pidOne) && Directory.Exists(foreign));
    }

    [Fact]
    public void Create_GivesAPrivateFolderNamedForThisProcess()
    {
        var folder = ProcessFolders.Create("normnb-sweep-probe");
        try
        {
            Assert.StartsWith($"normnb-sweep-probe-{Environment.ProcessId}-", folder.Name);
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder.FullName));
        }
        finally
        {
            ProcessFolders.Delete(folder);
        }
        Assert.False(Directory.Exists(folder.FullName));
    }

    [Fact]
    public void TheKernelsRestoreFolders_OfEndedProcesses_AreSwept()
    {
        var dead = Make("99999999--3f2b8c1e-0000-4000-8000-000000000000");
        var deadButRecent = Make("99999998--3f2b8c1e-0000-4000-8000-000000000002");   // may be another machine's, sharing this home
        var mine = Make($"{Environment.ProcessId}--3f2b8c1e-0000-4000-8000-000000000001");
        var other = Make("not-a-restore-folder");
        foreach (var old in new[] { dead, mine, other })
            Directory.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddHours(-2));
        Assert.Equal(1, KernelFolders.SweepStale(_parent.FullName));
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(deadButRecent) && Directory.Exists(mine) && Directory.Exists(other));
    }
}
