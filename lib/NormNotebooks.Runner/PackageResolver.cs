// SPDX-License-Identifier: MIT
using FSharp.Compiler.DependencyManager;

namespace NormNotebooks.Runner;

/// <summary>The outcome of restoring the notebook's packages.</summary>
/// <param name="Installed">Every package of the session with the version restored.</param>
/// <param name="NewReferences">Managed assemblies not referenced before.</param>
public sealed record PackageRestore(IReadOnlyList<PackageRequest> Installed, IReadOnlyList<string> NewReferences);

/// <summary>A package request that cannot be satisfied; the message names the package and carries the restore log.</summary>
public sealed class PackageRestoreException(string message) : Exception(message);

/// <summary>
/// Resolves <c>#r "nuget:"</c> the way .NET Interactive does: through F#'s dependency manager
/// (<c>FSharp.Compiler.DependencyManager.DependencyProvider</c> with <c>FSharp.DependencyManager.Nuget</c>), which
/// restores a generated SDK project and returns the managed assemblies, the package folders and the native
/// folders (<c>runtimes/&lt;rid&gt;/native</c>). Each restore re-resolves the session's whole package set, so
/// versions stay consistent across cells; asking for another version of a package already added fails.
/// </summary>
public sealed class PackageResolver : IDisposable
{
    private readonly List<PackageRequest> _packages = [];
    private readonly List<string> _sources = [];
    private readonly HashSet<string> _references = new(StringComparer.Ordinal);
    private readonly List<string> _nativeRoots = [];
    private readonly List<string> _assemblyPaths = [];
    private readonly DependencyProvider _provider;
    private readonly string _workingDirectory;
    private readonly string _restoreDirectory;

    /// <summary>Creates the session's resolver; its native probe lets P/Invoke find packages' native libraries.</summary>
    /// <remarks>The dependency manager writes a project per restore. It goes to a private temporary folder, never beside the notebook:
    /// there it would litter the user's folder and inherit a repository's Directory.Packages.props (central package management rejects
    /// the versioned references the restore project needs).</remarks>
    public PackageResolver(string workingDirectory)
    {
        _workingDirectory = workingDirectory;
        SweepStale();
        // Unique per process and private (mode 0700 on Unix): one shared parent folder, once made by root, crashed every other user's
        // notebooks at start.
        _restoreDirectory = Directory.CreateTempSubdirectory($"{RestorePrefix}{Environment.ProcessId}-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteRestoreDirectory();
        _provider = new DependencyProvider(
            new AssemblyResolutionProbe(() => _assemblyPaths),
            new NativeResolutionProbe(() => _nativeRoots),
            true);
    }

    private const string RestorePrefix = "normnb-restore-";

    /// <summary>The private folder the dependency manager writes its restore projects into.</summary>
    internal string RestoreDirectory => _restoreDirectory;

    /// <summary>Deletes restore folders left by notebook processes that no longer run (killed, timed out, crashed): the folder name
    /// carries the process id. Folders this user cannot delete are left alone.</summary>
    internal static void SweepStale()
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), RestorePrefix + "*"))
        {
            var rest = Path.GetFileName(folder)[RestorePrefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(rest[..dash], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                || pid == Environment.ProcessId || IsRunning(pid))
                continue;
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Releases the dependency manager and deletes the private restore folder.</summary>
    public void Dispose()
    {
        ((IDisposable)_provider).Dispose();
        DeleteRestoreDirectory();
    }

    private void DeleteRestoreDirectory()
    {
        try
        {
            if (Directory.Exists(_restoreDirectory))
                Directory.Delete(_restoreDirectory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Adds sources and packages, then restores the cumulative set.</summary>
    /// <exception cref="PackageRestoreException">A version conflict, or the restore failed.</exception>
    public PackageRestore Restore(IReadOnlyList<PackageRequest> packages, IReadOnlyList<string> sources)
    {
        foreach (var source in sources.Select(Absolute).Where(s => !_sources.Contains(s)))
            _sources.Add(source);
        var added = new List<PackageRequest>();
        foreach (var request in packages)
        {
            var existing = _packages.FirstOrDefault(p => string.Equals(p.Name, request.Name, StringComparison.OrdinalIgnoreCase));
            if (existing is null)
            {
                added.Add(request);
                continue;
            }
            if (request.Version is not null && !string.Equals(existing.Version, request.Version, StringComparison.OrdinalIgnoreCase))
                throw new PackageRestoreException(
                    $"{request.Name} version {request.Version} cannot be added because version {existing.Version ?? "(latest)"} was added previously. Restart the notebook to change versions.");
        }
        var candidate = _packages.Concat(added).ToList();

        var errors = new List<string>();
        var manager = _provider.TryFindDependencyManagerByKey([], _restoreDirectory, null,
            new ResolvingErrorReport((_, code, message) => errors.Add($"{code}: {message}")), "nuget")
            ?? throw new PackageRestoreException($"The NuGet dependency manager (FSharp.DependencyManager.Nuget.dll) was not found next to the runner. {string.Join(" ", errors)}");
        var lines = _sources.Select(s => Tuple.Create("i", s))
            .Concat(candidate.Select(p => Tuple.Create("r", p.Version is null ? $"Include={p.Name}" : $"Include={p.Name}, Version={p.Version}")))
            .ToList();
        var result = _provider.Resolve(manager, ".csx", lines,
            new ResolvingErrorReport((_, code, message) => errors.Add($"{code}: {message}")), "net10.0", "linux-x64", "", "", "", -1);
        if (!result.Success)
        {
            var log = string.Join("\n", result.StdOut.Concat(result.StdError).Concat(errors).Where(l => !string.IsNullOrWhiteSpace(l)));
            var names = string.Join(", ", added.Select(p => p.ToString()));
            throw new PackageRestoreException($"Could not restore {(names.Length > 0 ? names : "the notebook's packages")}:\n{log}");
        }

        _packages.Clear();
        _packages.AddRange(candidate.Select(p => p with { Version = p.Version ?? VersionFromRoots(p.Name, result.Roots) }));
        foreach (var root in result.Roots.Where(r => !_nativeRoots.Contains(r)))
        {
            _nativeRoots.Add(root);
            _assemblyPaths.Add(root);
        }
        var newReferences = result.Resolutions.Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && _references.Add(path)).ToList();
        return new PackageRestore(_packages.ToList(), newReferences);
    }

    // A relative local source (#i "nuget: ../packages") is relative to the notebook's folder, not to the restore folder.
    private string Absolute(string source) =>
        Uri.TryCreate(source, UriKind.Absolute, out _) || Path.IsPathRooted(source) ? source : Path.GetFullPath(Path.Combine(_workingDirectory, source));

    // Package folders look like <packages>/<lower-case id>/<version>/; the restore's roots name them.
    private static string? VersionFromRoots(string name, IEnumerable<string> roots)
    {
        var marker = $"{Path.DirectorySeparatorChar}{name.ToLowerInvariant()}{Path.DirectorySeparatorChar}";
        foreach (var root in roots)
        {
            var at = root.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
                return root[(at + marker.Length)..].Split(Path.DirectorySeparatorChar)[0];
        }
        return null;
    }
}
