// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;

// One source, compiled into the library and into the runner, which does not reference the library (it sweeps the kernel's folders).
#if NORMNB_RUNNER
namespace NormNotebooks.Runner;
#else
namespace NormNotebooks.Runtime;
#endif

/// <summary>
/// Temporary folders that belong to one process (a headless browser's profile, a chart page): named <c>PREFIX-PID-RANDOM</c> in
/// the system's temporary folder, mode 0700, deleted by their owner; those left by a process that no longer runs (killed, crashed)
/// are deleted when the next one is created. <see cref="Sweep"/> serves other naming schemes too (the C# kernel's
/// <c>PID--GUID</c> restore folders).
/// </summary>
internal static class ProcessFolders
{
    private static readonly HashSet<string> Swept = [];

    /// <summary>Creates a private folder <c>PREFIX-PID-RANDOM</c>, after sweeping ones of <paramref name="prefix"/> whose process ended.</summary>
    public static DirectoryInfo Create(string prefix)
    {
        lock (Swept)
        {
            if (Swept.Add(prefix))   // once per process and prefix: a chart is drawn often
                Sweep(Path.GetTempPath(), prefix + "-", "-");
        }
        return Directory.CreateTempSubdirectory($"{prefix}-{Environment.ProcessId}-");
    }

    /// <summary>Deletes the folders in <paramref name="parent"/> named <c>PREFIX PID SEPARATOR …</c> whose process no longer runs and that
    /// were last written at least <paramref name="minimumAge"/> ago (in a home folder shared between machines, a process id that does
    /// not run here may run elsewhere); folders this user cannot delete are left alone. Returns how many were deleted.</summary>
    public static int Sweep(string parent, string prefix, string separator, TimeSpan minimumAge = default)
    {
        if (!Directory.Exists(parent))
            return 0;
        var deleted = 0;
        foreach (var folder in Directory.EnumerateDirectories(parent, prefix + "*"))
        {
            var rest = Path.GetFileName(folder)[prefix.Length..];
            var end = rest.IndexOf(separator, StringComparison.Ordinal);
            if (end <= 0 || !int.TryParse(rest[..end], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || IsRunning(pid)
                || DateTime.UtcNow - Directory.GetLastWriteTimeUtc(folder) < minimumAge)
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

    /// <summary>Deletes a folder, retrying briefly while a process that was just stopped still releases it.</summary>
    public static void Delete(DirectoryInfo folder)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                if (Directory.Exists(folder.FullName))
                    Directory.Delete(folder.FullName, recursive: true);
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Thread.Sleep(100);
            }
        }
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
