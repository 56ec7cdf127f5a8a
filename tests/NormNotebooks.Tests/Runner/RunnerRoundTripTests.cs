// SPDX-License-Identifier: MIT
using System.Text;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>
/// A run changes outputs and execution counts and nothing else, byte for byte: a notebook that already holds this run's
/// results comes back identical, whatever its characters, escapes, line endings, byte-order mark or nesting (issue 15, item 9).
/// </summary>
public sealed class RunnerRoundTripTests : IDisposable
{
    // As Jupyter writes it (nbformat: indent 1, sorted keys, ensure_ascii=False), holding the results of running it:
    // `var x = 1;` shows nothing and gets execution count 1.
    private const string Template = """
        {
         "cells": [
          {
           "cell_type": "markdown",
           "id": "m",
           "metadata": {},
           "source": [
            "MARKDOWN"
           ]
          },
          {
           "cell_type": "code",
           "execution_count": 1,
           "id": "c",
           "metadata": {},
           "outputs": [],
           "source": [
            "var x = 1;"
           ]
          }
         ],
         "metadata": {
          "kernelspec": {
           "display_name": ".NET (C#)",
           "language": "C#",
           "name": ".net-csharp"
          }METADATA
         },
         "nbformat": 4,
         "nbformat_minor": 5
        }

        """;

    private readonly NotebookScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private static byte[] Notebook(string markdown, string metadata = "", bool crlf = false, bool bom = false)
    {
        var text = Template.Replace("MARKDOWN", markdown, StringComparison.Ordinal).Replace("METADATA", metadata, StringComparison.Ordinal);
        if (crlf)
            text = text.Replace("\n", "\r\n", StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(text);
        return bom ? [0xEF, 0xBB, 0xBF, .. bytes] : bytes;
    }

    public static TheoryData<string, byte[]> Notebooks => new()
    {
        { "emoji (outside the BMP)", Notebook("📓 notes 🧪", ",\n  \"title\": \"𝛼-norms 📓\"") },
        { "U+2028 and U+2029", Notebook("line\u2028separator\u2029paragraph") },
        { "HTML-sensitive characters", Notebook("<script>alert('x' + \\\"&amp;\\\")</script> a > b") },
        { "escapes as the source wrote them", Notebook("caf\\u00e9 \\/ \\u00e9t\\u00e9 \\ud83d\\udcd3") },
        { "CRLF line endings", Notebook("windows", crlf: true) },
        { "byte-order mark", Notebook("bom", bom: true) },
        { "metadata 100 levels deep", Notebook("deep", ",\n  \"deep\": " + string.Concat(Enumerable.Repeat("{\"d\": ", 100)) + "0" + new string('}', 100)) },
    };

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void ANotebookHoldingThisRunsResults_IsRewrittenByteForByte(string variant, byte[] notebook)
    {
        var path = _scratch.WriteBytes("same.ipynb", notebook);
        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 0, $"{variant}: {stdout}{stderr}");
        Assert.Equal(notebook, File.ReadAllBytes(path));
    }

    [Fact]
    public void NonAsciiOutput_IsWrittenAsJupyterWritesIt()
    {
        var path = _scratch.Write("unicode.ipynb", "Console.WriteLine(\"📓 café \\u2028 <b>&</b> \\\"quoted\\\" \\\\ \\u001b[0m\");");
        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 0, stdout + stderr);
        // json.dumps(..., ensure_ascii=False): only '"', '\' and control characters are escaped, the latter in lower-case hex.
        Assert.Contains("\"📓 café \u2028 <b>&</b> \\\"quoted\\\" \\\\ \\u001b[0m\\n\"", File.ReadAllText(path));
        Assert.Equal("📓 café \u2028 <b>&</b> \"quoted\" \\ \u001b[0m\n", Text(Read(path)["cells"]![0]!["outputs"]![0]!["text"]));
    }
}
