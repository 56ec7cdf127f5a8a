// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;

namespace NormNotebooks.Runner;

/// <summary>
/// The C# kernel restores <c>#r "nuget:"</c> packages through a project it writes to <c>~/.packagemanagement/nuget/Projects/PID--GUID</c>
/// and deletes when its process ends normally. A notebook process that was killed (timeout, signal, out of memory) leaves its folder
/// behind; the next notebook process deletes those of processes that no longer run.
/// </summary>
internal static class KernelFolders
{
    public static string RestoreProjects =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".packagemanagement", "nuget", "Projects");

    /// <summary>Deletes the restore folders of processes that no longer run; returns how many.</summary>
    public static int SweepStale(string? parent = null)
    {
        parent ??= RestoreProjects;
        if (!Directory.Exists(parent))
            return 0;
        var deleted = 0;
        foreach (var folder in Directory.EnumerateDirectories(parent))
        {
            var name = Path.GetFileName(folder);
            var end = name.IndexOf("--", StringComparison.Ordinal);
            if (end <= 0 || !int.TryParse(name[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || IsRunning(pid))
                continue;
            try
            {
                Directory.Delete(folder, recursive: true);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return deleted;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
