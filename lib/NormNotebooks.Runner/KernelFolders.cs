// SPDX-License-Identifier: MIT
namespace NormNotebooks.Runner;

/// <summary>
/// The C# kernel restores <c>#r "nuget:"</c> packages through a project it writes to <c>~/.packagemanagement/nuget/Projects/PID--GUID</c>
/// and deletes when its process ends normally. A notebook process that was killed (timeout, signal, out of memory) leaves its folder
/// behind; the next notebook process deletes those of processes that no longer run, once they are an hour old (the home folder
/// may be shared with other machines, where that process id may be running).
/// </summary>
internal static class KernelFolders
{
    public static string RestoreProjects =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".packagemanagement", "nuget", "Projects");

    /// <summary>Deletes the restore folders of processes that no longer run; returns how many.</summary>
    public static int SweepStale(string? parent = null) => ProcessFolders.Sweep(parent ?? RestoreProjects, "", "--", TimeSpan.FromHours(1));
}
