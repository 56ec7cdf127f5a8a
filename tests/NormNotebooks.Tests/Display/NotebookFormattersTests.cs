// SPDX-License-Identifier: MIT
using Microsoft.DotNet.Interactive.Formatting;
using NormNotebooks.Display;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Display;

/// <summary>The library's formatters, registered with the kernel's formatter package in this process as a kernel would.</summary>
public sealed class NotebookFormattersTests
{
    private sealed record Run(string Norm, double Loss, int Steps);

    public NotebookFormattersTests() => NotebookFormatters.Register();

    [Fact]
    public void TheKernelsOwnLookup_IsReachable() => Assert.NotNull(NotebookFormatters.KernelDefault.Find);

    [Fact]
    public void SequencesOfRecords_AreTables()
    {
        Run[] runs = [new("layernorm", 1.2345, 300), new("rmsnorm", 1.2301, 300)];
        Assert.Equal("Norm       Loss    Steps\n---------  ------  -----\nlayernorm  1.2345  300\nrmsnorm    1.2301  300", runs.ToDisplayString(PlainTextFormatter.MimeType));
        Assert.StartsWith("<table><thead><tr><th>Norm</th><th>Loss</th><th>Steps</th></tr></thead>", runs.ToDisplayString(HtmlFormatter.MimeType));
        var many = Enumerable.Range(0, 150).Select(i => new { Step = i }).ToList();
        Assert.EndsWith("… 50 more rows", many.ToDisplayString(PlainTextFormatter.MimeType));
    }

    /// <summary>Sequences that are not tables (strings are sequences of characters) keep exactly the kernel's rendering: the table
    /// formatter hands them to the formatter the kernel would have chosen.</summary>
    [Fact]
    public void OtherSequences_KeepTheKernelsRendering()
    {
        Assert.Equal("abc", "abc".ToDisplayString(PlainTextFormatter.MimeType));
        Assert.Equal("[ 1, 2, 3 ]", new[] { 1, 2, 3 }.ToDisplayString(PlainTextFormatter.MimeType));
        Assert.Contains("<pre>[ 1, 2, 3 ]</pre>", new[] { 1, 2, 3 }.ToDisplayString(HtmlFormatter.MimeType));
        Assert.Contains("<td>", new Dictionary<string, int> { ["a"] = 1 }.ToDisplayString(HtmlFormatter.MimeType));
        Assert.Equal("[ a, b ]", new List<string> { "a", "b" }.ToDisplayString(PlainTextFormatter.MimeType));
    }

    [Fact]
    public void LargeTensors_AreAbbreviated_SmallOnesShownInFull()
    {
        using var small = arange(6, dtype: ScalarType.Int64).reshape(2, 3);
        Assert.Equal("[2x3], type = Int64, device = cpu\n 0 1 2\n 3 4 5\n", small.ToDisplayString(PlainTextFormatter.MimeType));
        using var large = zeros(1000, 1000);
        var text = large.ToDisplayString(PlainTextFormatter.MimeType);
        Assert.StartsWith("[1000x1000], type = Float32, device = cpu\n(first 6 entries along each axis of 1000x1000; 1,000,000 values in all)\n", text);
        Assert.Equal(2 + 6, text.TrimEnd('\n').Split('\n').Length);
    }
}
