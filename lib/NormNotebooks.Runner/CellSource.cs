// SPDX-License-Identifier: MIT
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis.Scripting;
using Microsoft.DotNet.Interactive.CSharp;

namespace NormNotebooks.Runner;

/// <summary>
/// Gives each cell's submission a file name (<c>cell-N.csx</c>) and debug information, so a stack trace names the cell's line
/// ("in cell-9.csx:line 2"). The C# kernel compiles without either (its stack traces have no lines) and keeps its script options
/// private; the kernel packages are archived, so the field is stable, and <c>RunnerSemanticsTests</c> (the line of an exception) fails if it ever changes. Without
/// it, errors still name the cell, without the line.
/// </summary>
internal static class CellSource
{
    private static readonly FieldInfo? Options = typeof(CSharpKernel).GetField("_scriptOptions", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>Whether the kernel's script options could be reached.</summary>
    public static bool Available => Options?.FieldType == typeof(ScriptOptions);

    /// <summary>Names the next submission <c>cell-<paramref name="cell"/>.csx</c>, with debug information.</summary>
    public static void Name(CSharpKernel kernel, int cell)
    {
        if (!Available || Options!.GetValue(kernel) is not ScriptOptions options)
            return;
        Options.SetValue(kernel, options.WithFilePath($"cell-{cell}.csx").WithEmitDebugInformation(true).WithFileEncoding(Encoding.UTF8));
    }
}
