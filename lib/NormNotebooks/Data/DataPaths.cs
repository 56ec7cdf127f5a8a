// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;

namespace NormNotebooks.Data;

/// <summary>Where data sets are looked for and fetched to.</summary>
/// <remarks>
/// The data root is, in order: the <c>NORMNB_DATA</c> environment variable; the <c>data/</c> folder of the
/// NormNotebooks checkout that contains the current directory (found by walking up to
/// <c>NormNotebooks.sln</c>); otherwise <c>&lt;cache&gt;/data</c> under <see cref="TorchRuntime.CacheRoot"/>.
/// Each data set lives in a sub-folder of the root (<c>fashion-mnist/</c>, <c>brown/</c>).
/// </remarks>
public static class DataPaths
{
    /// <summary>The folder data sets are stored in and fetched to.</summary>
    public static string Root()
    {
        if (Environment.GetEnvironmentVariable("NORMNB_DATA") is { Length: > 0 } configured)
            return Path.GetFullPath(configured);
        return RepositoryDataFolder() ?? Path.Combine(TorchRuntime.CacheRoot(), "data");
    }

    /// <summary>The <c>data/</c> folder of the enclosing NormNotebooks checkout, or null outside one.</summary>
    public static string? RepositoryDataFolder()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "NormNotebooks.sln")))
                    return Path.Combine(dir.FullName, "data");
            }
        }
        return null;
    }

    /// <summary>True unless <c>NORMNB_NO_FETCH=1</c> forbids installing or downloading missing data.</summary>
    public static bool FetchAllowed => Environment.GetEnvironmentVariable("NORMNB_NO_FETCH") is not ("1" or "true");
}
