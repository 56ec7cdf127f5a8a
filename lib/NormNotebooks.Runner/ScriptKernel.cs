// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace NormNotebooks.Runner;

/// <summary>What one C# submission did.</summary>
/// <param name="Diagnostics">Compile errors, formatted as .NET Interactive shows them: <c>(line,col): error CSxxxx: message</c>. Empty when it compiled.</param>
/// <param name="ErrorLine">The cell line of the first compile error or of the faulting statement, when known.</param>
/// <param name="Exception">The exception the code threw, or null.</param>
/// <param name="HasReturnValue">Whether the cell ends in an expression whose value is shown.</param>
/// <param name="ReturnValue">That value.</param>
public sealed record SubmissionResult(IReadOnlyList<string> Diagnostics, int? ErrorLine, Exception? Exception, bool HasReturnValue, object? ReturnValue);

/// <summary>
/// One Roslyn scripting session per notebook — the engine .NET Interactive's C# kernel is built on: the first
/// cell runs with <c>CSharpScript.RunAsync</c>, later cells with <c>ContinueWithAsync</c>, so variables, types and
/// usings carry over; a cell that throws keeps the state its completed statements built.
/// </summary>
/// <remarks>
/// Options match the C# kernel: latest language version; the default imports System, System.Text,
/// System.Collections, System.Collections.Generic, System.Threading.Tasks, System.Linq; <c>using static
/// Microsoft.DotNet.Interactive.Kernel</c> for <c>display</c>/<c>HTML</c>; the whole shared framework referenced
/// (plain <c>ScriptOptions.Default</c> cannot bind System.Linq on .NET 10); <c>#r</c> paths resolved against the
/// notebook's folder. Code is compiled optimised (notebooks run training loops) with debug information, so stack
/// traces carry the cell's line numbers.
/// </remarks>
public sealed class ScriptKernel
{
    private static readonly string[] DefaultImports =
        ["System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq"];

    private static readonly MethodInfo? HasReturnValueMethod =
        typeof(Script).GetMethod("HasReturnValue", BindingFlags.Instance | BindingFlags.NonPublic);

    private ScriptOptions _options;
    private ScriptState<object>? _state;

    /// <summary>Creates a session whose relative paths resolve against <paramref name="workingDirectory"/>.</summary>
    public ScriptKernel(string workingDirectory)
    {
        _options = ScriptOptions.Default
            .WithReferences(SharedFrameworkReferences().Concat(HelperReferences()))
            .WithImports(DefaultImports)
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithOptimizationLevel(OptimizationLevel.Release)
            .WithEmitDebugInformation(true)
            .WithFileEncoding(System.Text.Encoding.UTF8)
            .WithAllowUnsafe(true)
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(workingDirectory))
            .WithSourceResolver(ScriptSourceResolver.Default.WithBaseDirectory(workingDirectory));
    }

    /// <summary>Adds assemblies (from restored packages) to every later submission.</summary>
    public void AddReferences(IEnumerable<string> paths) =>
        _options = _options.AddReferences(paths.Select(p => MetadataReference.CreateFromFile(p)));

    /// <summary>Compiles and runs one cell's code as the next submission.</summary>
    public async Task<SubmissionResult> RunAsync(string code, int cellNumber)
    {
        var options = _options.WithFilePath($"cell-{cellNumber}.csx");
        _state ??= await CSharpScript.RunAsync("using static Microsoft.DotNet.Interactive.Kernel;", options);
        var script = _state.Script.ContinueWith(code, options);
        var diagnostics = script.Compile().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (diagnostics.Count > 0)
        {
            var formatted = diagnostics.Select(Format).ToList();
            return new SubmissionResult(formatted, diagnostics[0].Location.GetLineSpan().StartLinePosition.Line + 1, null, false, null);
        }
        var hasReturnValue = HasReturnValueMethod is not null && (bool)HasReturnValueMethod.Invoke(script, null)!;
        var next = await script.RunFromAsync(_state, catchException: _ => true);
        _state = next;
        if (next.Exception is { } exception)
            return new SubmissionResult([], FaultingLine(exception, cellNumber), exception, false, null);
        return new SubmissionResult([], null, null, hasReturnValue, next.ReturnValue);
    }

    private static string Format(Diagnostic diagnostic)
    {
        var position = diagnostic.Location.GetLineSpan().StartLinePosition;
        return $"({position.Line + 1},{position.Character + 1}): error {diagnostic.Id}: {diagnostic.GetMessage(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The line of the deepest stack frame inside this cell (a frame in "cell-N.csx:line L").</summary>
    private static int? FaultingLine(Exception exception, int cellNumber)
    {
        var marker = $"cell-{cellNumber}.csx:line ";
        foreach (var line in (exception.StackTrace ?? "").Split('\n'))
        {
            var at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0 && int.TryParse(line.AsSpan(at + marker.Length).Trim(), out var number))
                return number;
        }
        return null;
    }

    private static IEnumerable<MetadataReference> SharedFrameworkReferences()
    {
        var folder = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        foreach (var file in Directory.EnumerateFiles(folder, "*.dll").Order(StringComparer.Ordinal))
        {
            if (IsManagedAssembly(file))
                yield return MetadataReference.CreateFromFile(file);
        }
    }

    private static IEnumerable<MetadataReference> HelperReferences() =>
        new[]
        {
            typeof(Microsoft.DotNet.Interactive.Kernel).Assembly,
            typeof(Microsoft.DotNet.Interactive.Formatting.Formatter).Assembly,
            typeof(Microsoft.AspNetCore.Html.IHtmlContent).Assembly,
        }.Select(a => MetadataReference.CreateFromFile(a.Location));

    private static bool IsManagedAssembly(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new PEReader(stream);
            return reader.HasMetadata && reader.GetMetadataReader().IsAssembly;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }
}
