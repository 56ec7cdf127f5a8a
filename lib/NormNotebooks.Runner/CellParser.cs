// SPDX-License-Identifier: MIT
using System.Text.RegularExpressions;

namespace NormNotebooks.Runner;

/// <summary>A package asked for with <c>#r "nuget: Name[, Version]"</c>; a null version means the newest stable.</summary>
public sealed record PackageRequest(string Name, string? Version)
{
    /// <summary>"Name, Version" or "Name".</summary>
    public override string ToString() => Version is null ? Name : $"{Name}, {Version}";
}

/// <summary>What a code cell asks for, once its magic commands are taken out.</summary>
/// <param name="Kind">How to run it.</param>
/// <param name="Code">C# to compile (directive lines blanked so line numbers stay those of the cell), or the Markdown text.</param>
/// <param name="Packages">Packages from <c>#r "nuget:"</c> lines, hoisted and restored before the code runs.</param>
/// <param name="Sources">Package sources from <c>#i "nuget:"</c> lines.</param>
/// <param name="Time">Whether <c>#!time</c> asked for the wall time.</param>
/// <param name="Error">Why the cell cannot run, or null.</param>
public sealed record CellPlan(CellKind Kind, string Code, IReadOnlyList<PackageRequest> Packages, IReadOnlyList<string> Sources, bool Time, string? Error);

/// <summary>How a code cell runs.</summary>
public enum CellKind
{
    /// <summary>Roslyn C# script.</summary>
    CSharp,

    /// <summary><c>#!markdown</c>: rendered to HTML.</summary>
    Markdown,

    /// <summary>Cannot run: see <see cref="CellPlan.Error"/>.</summary>
    Unsupported,
}

/// <summary>Splits a cell into its magic commands and its code, with .NET Interactive's rules.</summary>
/// <remarks>
/// <c>#r "nuget:"</c> and <c>#i "nuget:"</c> lines are hoisted (run before the rest of the cell);
/// <c>#r "file.dll"</c> stays for Roslyn, which resolves it against the notebook's folder;
/// <c>#!csharp</c>/<c>#!c#</c> are no-ops; <c>#!markdown</c> as the first line renders the rest;
/// <c>#!time</c> reports the wall time. Every other <c>#!</c> command — other kernels (<c>#!fsharp</c>,
/// <c>#!pwsh</c>, …), <c>#!set</c>, <c>#!value</c> and the like — is an error naming it, never ignored.
/// </remarks>
public static partial class CellParser
{
    private static readonly HashSet<string> CSharpNames = new(StringComparer.OrdinalIgnoreCase) { "csharp", "c#" };

    private static readonly HashSet<string> OtherKernelMagics = new(StringComparer.OrdinalIgnoreCase)
    {
        "fsharp", "f#", "pwsh", "powershell", "javascript", "js", "html", "sql", "kql", "http", "mermaid",
        "value", "set", "share", "who", "whos", "lsmagic", "about", "import", "connect", "log", "python", "r",
    };

    /// <summary>Whether <paramref name="kernel"/> names the C# kernel (<c>csharp</c>, <c>c#</c>).</summary>
    public static bool IsCSharp(string kernel) => CSharpNames.Contains(kernel);

    /// <summary>Plans a code cell's run; <paramref name="kernel"/> is its kernel from metadata or the notebook default.</summary>
    public static CellPlan Parse(string source, string kernel, int cellNumber)
    {
        var lines = source.Split('\n');
        var packages = new List<PackageRequest>();
        var sources = new List<string>();
        var time = false;
        var firstCodeLine = true;
        string? error = null;
        var kind = IsCSharp(kernel) ? CellKind.CSharp : CellKind.Unsupported;
        if (kind == CellKind.Unsupported)
            error = $"Cell {cellNumber} is a '{kernel}' cell; normnb runs C# cells only (kernel 'csharp').";

        for (var i = 0; i < lines.Length && error is null; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0)
                continue;
            if (line.StartsWith("#!", StringComparison.Ordinal))
            {
                var magic = line[2..].Split(' ', 2)[0];
                if (CSharpNames.Contains(magic))
                    lines[i] = "";
                else if (magic == "markdown" && firstCodeLine)
                    return new CellPlan(CellKind.Markdown, string.Join('\n', lines.Skip(i + 1)), [], [], false, null);
                else if (magic == "time")
                {
                    time = true;
                    lines[i] = "";
                }
                else
                    error = OtherKernelMagics.Contains(magic) || magic == "markdown"
                        ? $"Cell {cellNumber}, line {i + 1}: the magic command '#!{magic}' is not supported; normnb runs C# cells only (#!csharp, #!markdown as the first line, #!time)."
                        : $"Cell {cellNumber}, line {i + 1}: unknown magic command '#!{magic}'.";
                continue;
            }
            if (NuGetDirective().Match(line) is { Success: true } directive)
            {
                var argument = directive.Groups["arg"].Value.Trim();
                if (directive.Groups["kind"].Value == "i")
                    sources.Add(argument);
                else if (ParsePackage(argument) is { } package)
                    packages.Add(package);
                else
                    error = $"Cell {cellNumber}, line {i + 1}: '#r \"nuget: {argument}\"' is not 'Name' or 'Name, Version'.";
                lines[i] = "";
                continue;
            }
            firstCodeLine = false;
        }
        return new CellPlan(error is null ? kind : CellKind.Unsupported, string.Join('\n', lines), packages, sources, time, error);
    }

    private static PackageRequest? ParsePackage(string argument)
    {
        var parts = argument.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is < 1 or > 2 || !PackageName().IsMatch(parts[0]))
            return null;
        var version = parts.Length == 2 ? parts[1] : null;
        if (version is { Length: 0 })
            return null;
        return new PackageRequest(parts[0], version);
    }

    [GeneratedRegex("""^#(?<kind>[ri])\s+"nuget:\s*(?<arg>[^"]*)"\s*$""")]
    private static partial Regex NuGetDirective();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")]
    private static partial Regex PackageName();
}
