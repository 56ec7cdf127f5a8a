// SPDX-License-Identifier: MIT
using System.Text.Json;
using System.Text.Json.Serialization;

namespace NormNotebooks.Runner;

/// <summary>A code cell sent to the notebook process.</summary>
/// <param name="Number">1-based cell number in the notebook.</param>
/// <param name="Source">The cell's source.</param>
/// <param name="Kernel">Its kernel (metadata or notebook default).</param>
public sealed record HostCell(int Number, string Source, string Kernel);

/// <summary>What the runner asks the notebook process to do: run these cells in this folder.</summary>
/// <param name="WorkingDirectory">The notebook's folder.</param>
/// <param name="Cells">Code cells in order.</param>
/// <param name="StopOnError">Stop after the first cell that fails.</param>
/// <param name="MaxOutputChars">Per-cell cap on output characters (streams, displays and results); beyond it the cell fails.</param>
public sealed record HostRequest(string WorkingDirectory, IReadOnlyList<HostCell> Cells, bool StopOnError, long MaxOutputChars);

/// <summary>
/// One line of the notebook process's event stream (JSON lines on a private file descriptor, never on stdout,
/// which native code may write to). <c>Type</c> is one of: <c>started</c>, <c>stream</c>, <c>display</c>,
/// <c>update</c>, <c>result</c>, <c>error</c>, <c>finished</c>, <c>done</c>.
/// </summary>
public sealed record HostEvent(
    string Type,
    int Cell,
    string? Name = null,
    string? Text = null,
    string? DisplayId = null,
    IReadOnlyDictionary<string, string>? Data = null,
    string? Ename = null,
    string? Evalue = null,
    IReadOnlyList<string>? Traceback = null,
    int? ExecutionCount = null,
    double? Milliseconds = null,
    bool? Ok = null);

internal static class ProtocolJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
