// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Tests.Support;

namespace NormNotebooks.Tests.Runner;

/// <summary>The in-process nbformat check accepts a valid notebook and rejects what Jupyter's validator rejects.</summary>
public sealed class NbformatValidatorTests
{
    private static JsonObject Valid() => JsonNode.Parse("""
        {"cells": [{"cell_type": "code", "execution_count": 1, "id": "a1", "metadata": {}, "outputs": [
                     {"name": "stdout", "output_type": "stream", "text": ["hi\n"]}], "source": ["Console.WriteLine(\"hi\");"]},
                   {"cell_type": "markdown", "id": "b2", "metadata": {}, "source": ["# t"]}],
         "metadata": {"kernelspec": {"display_name": ".NET (C#)", "language": "C#", "name": ".net-csharp"}},
         "nbformat": 4, "nbformat_minor": 5}
        """)!.AsObject();

    private static IReadOnlyList<string> Check(JsonObject notebook)
    {
        var path = Path.Combine(Path.GetTempPath(), $"nbformat-{Guid.NewGuid():N}.ipynb");
        try
        {
            File.WriteAllText(path, notebook.ToJsonString());
            return NbformatValidator.Problems(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AcceptsAValidNotebook() => Assert.Empty(Check(Valid()));

    [Fact]
    public void RejectsWhatTheSchemaForbids()
    {
        var noOutputs = Valid();
        noOutputs["cells"]![0]!.AsObject().Remove("outputs");
        Assert.NotEmpty(Check(noOutputs));

        var badOutput = Valid();
        badOutput["cells"]![0]!["outputs"]![0]!["output_type"] = "printout";
        Assert.NotEmpty(Check(badOutput));

        var extraKey = Valid();
        extraKey["cells"]![1]!["outputs"] = new JsonArray();          // markdown cells have no outputs
        Assert.NotEmpty(Check(extraKey));

        var duplicateIds = Valid();
        duplicateIds["cells"]![1]!["id"] = "a1";
        Assert.Contains("duplicate cell ids a1", Assert.Single(Check(duplicateIds)));
    }

    [Fact]
    public void EveryCommittedNotebook_IsValid()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "NormNotebooks.sln")))
            folder = folder.Parent;
        Assert.True(folder is not null, $"no NormNotebooks.sln above {AppContext.BaseDirectory}");
        var notebooks = Directory.GetFiles(Path.Combine(folder.FullName, "notebooks"), "*.ipynb");
        Assert.NotEmpty(notebooks);
        var problems = notebooks.SelectMany(NbformatValidator.Problems).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
