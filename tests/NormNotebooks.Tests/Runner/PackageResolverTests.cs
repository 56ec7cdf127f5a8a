// SPDX-License-Identifier: MIT
using NormNotebooks.Runner;

namespace NormNotebooks.Tests.Runner;

/// <summary>The restore folder is private to one notebook process and goes away with it, or with the next run when the process was
/// killed; a folder shared by all users (once made by root) crashed every other user's notebooks at start.</summary>
public sealed class PackageResolverTests
{
    [Fact]
    public void RestoreFolder_IsPrivateAndPerProcess_AndDeletedOnDispose()
    {
        string folder;
        using (var first = new PackageResolver(Path.GetTempPath()))
        using (var second = new PackageResolver(Path.GetTempPath()))
        {
            folder = first.RestoreDirectory;
            Assert.NotEqual(folder, second.RestoreDirectory);
            Assert.StartsWith($"normnb-restore-{Environment.ProcessId}-", Path.GetFileName(folder));
            Assert.Equal(Path.TrimEndingDirectorySeparator(Path.GetTempPath()), Path.GetDirectoryName(folder));
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        }
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void SweepStale_RemovesFoldersOfProcessesThatAreGone_AndKeepsLiveOnes()
    {
        var gone = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"normnb-restore-{int.MaxValue - 7}-stale")).FullName;
        File.WriteAllText(Path.Combine(gone, "restore.fsproj"), "<Project />");
        var live = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"normnb-restore-{Environment.ProcessId}-live")).FullName;
        try
        {
            PackageResolver.SweepStale();
            Assert.False(Directory.Exists(gone));
            Assert.True(Directory.Exists(live));
        }
        finally
        {
            if (Directory.Exists(gone))
                Directory.Delete(gone, recursive: true);
            Directory.Delete(live, recursive: true);
        }
    }
}
