// SPDX-License-Identifier: MIT
using TorchSharp;

namespace NormNotebooks.Runtime;

/// <summary>
/// Finds TorchSharp's and libtorch's native files for the current process, in the three layouts they
/// arrive in: an app's build output (<c>runtimes/linux-x64/native</c> beside the app, listed in
/// <c>NATIVE_DLL_SEARCH_DIRECTORIES</c>), the NuGet package folder (a notebook's <c>#r "nuget:"</c> loads
/// TorchSharp.dll from there), and TorchSharp's own consolidated copy next to TorchSharp.dll.
/// </summary>
internal static class NativeSearch
{
    private const string Rid = "linux-x64";

    public static string? FindLibTorchSharp() => FindFile("libLibTorchSharp.so");

    public static string? FindLibTorchDirectory() => FindFile("libtorch_cpu.so") is { } path ? Path.GetDirectoryName(path) : null;

    private static string? FindFile(string name) =>
        CandidateFolders().Select(folder => Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    /// <summary>Folders searched, most specific first; each appears once.</summary>
    public static IReadOnlyList<string> CandidateFolders()
    {
        var folders = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string nativeDirs)
            folders.AddRange(nativeDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));

        var torchSharpDir = Path.GetDirectoryName(typeof(torch).Assembly.Location);
        if (!string.IsNullOrEmpty(torchSharpDir))
        {
            folders.Add(torchSharpDir);
            folders.Add(Path.Combine(torchSharpDir, "runtimes", Rid, "native"));
            folders.Add(Path.Combine(torchSharpDir, "cpu"));   // TorchSharp's own consolidation folder
            // NuGet layout: <root>/torchsharp/<version>/lib/<tfm>/TorchSharp.dll
            var packageVersionDir = Directory.GetParent(torchSharpDir)?.Parent;
            if (packageVersionDir is not null)
            {
                folders.Add(Path.Combine(packageVersionDir.FullName, "runtimes", Rid, "native"));
                var packagesRoot = packageVersionDir.Parent?.Parent;
                if (packagesRoot is not null)
                    folders.AddRange(LibTorchPackageFolders(packagesRoot.FullName));
            }
        }
        folders.AddRange(LibTorchPackageFolders(NuGetPackagesRoot()));
        return folders.Where(Directory.Exists).Select(Path.GetFullPath).Distinct().ToList();
    }

    private static IEnumerable<string> LibTorchPackageFolders(string packagesRoot)
    {
        if (!Directory.Exists(packagesRoot))
            yield break;
        foreach (var package in Directory.EnumerateDirectories(packagesRoot, "libtorch-*-" + Rid).Order(StringComparer.Ordinal))
            foreach (var version in Directory.EnumerateDirectories(package).OrderDescending(StringComparer.Ordinal))
                yield return Path.Combine(version, "runtimes", Rid, "native");
    }

    private static string NuGetPackagesRoot() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
