// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using System.Xml.Linq;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

[Trait("Category", "Packages")]
public sealed class RunnerPackagesAndFoldersTests : IDisposable
{
    private readonly NotebookScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void NuGetReference_ResolvesAPackageTheSolutionDoesNotReference_AndRefusesAnotherVersion()
    {
        var path = _scratch.Copy("nuget.ipynb");
        var (exit, stdout, _) = Run(path, "--allow-errors", "--output", Path.Combine(_scratch.Folder, "out"));
        Assert.True(exit == 0, stdout);
        var notebook = Read(Path.Combine(_scratch.Folder, "out", "nuget.ipynb"));

        var first = Outputs(notebook, "n1");
        Assert.Equal("<div><div></div><div></div><div><strong>Installed Packages</strong><ul><li><span>Humanizer.Core, 2.14.1</span></li></ul></div></div>",
            Text(first[0]!["data"]!["text/html"]));   // the kernel's own message, updated in place while the restore runs
        Assert.Equal("normalization in deep networks", Text(first[1]!["data"]!["text/plain"]));
        Assert.Equal("three", Text(Outputs(notebook, "n2")[1]!["data"]!["text/plain"]));
        var conflict = Outputs(notebook, "n3")[0]!;
        Assert.Equal("PackageRestoreError", (string?)conflict["ename"]);
        Assert.Equal("Humanizer.Core version 2.8.26 cannot be added because version 2.14.1 was added previously.",
            (string?)conflict["evalue"]);
    }

    [Fact]
    public void NuGetReference_RestoresInsideARepositoryWithCentralPackageManagement_AndLeavesNothingBesideTheNotebook()
    {
        // This repository's own notebooks live under a Directory.Packages.props; a restore project written beside them inherited it
        // and failed with NU1008.
        _scratch.WriteText("Directory.Packages.props",
            "<Project><PropertyGroup><ManagePackageVersionsCentrally>true</ManagePackageVersionsCentrally></PropertyGroup></Project>");
        var path = _scratch.Write("cpm.ipynb", "#r \"nuget: Humanizer.Core, 2.14.1\"\nusing Humanizer;\n\"three\".Length");
        var (exit, stdout, _) = Run(path);
        Assert.True(exit == 0, stdout);
        Assert.Equal([".runs", "cpm.ipynb", "Directory.Packages.props"], Directory.EnumerateFileSystemEntries(_scratch.Folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Parameters_AreInjectedAfterTheParametersCell_InTheOutputCopyOnly()
    {
        var path = _scratch.Write("params.ipynb", "var steps = 10;\nvar name = \"default\";", "Console.WriteLine($\"{steps * 2} {name} {rate}\");");
        var notebook = Read(path);
        notebook["cells"]![0]!["metadata"] = new JsonObject { ["tags"] = new JsonArray("parameters") };
        File.WriteAllText(path, notebook.ToJsonString());
        var before = File.ReadAllBytes(path);

        var output = Path.Combine(_scratch.Folder, "out");
        var (exit, stdout, _) = Run(path, "-p", "steps=21", "-p", "name=it's \"quoted\"", "-p", "rate=0.5", "--output", output);
        Assert.True(exit == 0, stdout);
        Assert.Equal(before, File.ReadAllBytes(path));
        var cells = (JsonArray)Read(Path.Combine(output, "params.ipynb"))["cells"]!;
        Assert.Equal(3, cells.Count);
        Assert.Equal("injected-parameters", (string?)cells[1]!["metadata"]!["tags"]![0]);
        Assert.Equal("42 it's \"quoted\" 0.5\n", Text(cells[2]!["outputs"]![0]!["text"]));
    }

    [Fact]
    public void Parameters_InjectedIntoAnNbformat45Notebook_GetACellId_SoTheCopyValidates()
    {
        var parameters = CodeCell("p", "var steps = 10;");
        parameters["metadata"] = new JsonObject { ["tags"] = new JsonArray("parameters") };
        var path = _scratch.WriteCells("ids.ipynb", parameters, CodeCell("use", "steps * 2"));

        var output = Path.Combine(_scratch.Folder, "out");
        var (exit, stdout, _) = Run(path, "-p", "steps=21", "--output", output);
        Assert.True(exit == 0, stdout);
        var copy = Path.Combine(output, "ids.ipynb");
        Assert.Equal("injected-parameters", (string?)Read(copy)["cells"]![1]!["id"]);
        var problems = NbformatValidator.Problems(copy);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Folder_RunsInNameOrder_ReportsOneLineEach_AndWritesJUnit()
    {
        var folder = Path.Combine(_scratch.Folder, "set");
        Directory.CreateDirectory(folder);
        File.Copy(_scratch.Write("b-fails.ipynb", "throw new InvalidOperationException(\"broken\");"), Path.Combine(folder, "b-fails.ipynb"));
        File.Copy(_scratch.Write("a-passes.ipynb", "1 + 1"), Path.Combine(folder, "a-passes.ipynb"));
        var junit = Path.Combine(_scratch.Folder, "junit.xml");

        var (exit, stdout, _) = Run(folder, "--junit", junit, "--output", Path.Combine(_scratch.Folder, "out"));
        Assert.Equal(1, exit);
        Assert.True(stdout.IndexOf("[1/2]", StringComparison.Ordinal) < stdout.IndexOf("[2/2]", StringComparison.Ordinal));
        Assert.Matches(@"✓ a-passes\.ipynb", stdout);
        Assert.Matches(@"✗ b-fails\.ipynb .*cell 1: System\.InvalidOperationException: broken", stdout);
        Assert.Contains("1 passed, 1 failed", stdout);

        var cases = XDocument.Load(junit).Descendants("testcase").ToList();
        Assert.Equal(["a-passes.ipynb", "b-fails.ipynb"], cases.Select(c => (string?)c.Attribute("name")));
        Assert.Null(cases[0].Element("failure"));
        Assert.Contains("broken", (string?)cases[1].Element("failure")!.Attribute("message"));

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(_scratch.Folder, "out", "b-fails.run.json")))!;
        Assert.False((bool)summary["ok"]!);
        Assert.Equal("System.InvalidOperationException", (string?)summary["cells"]![0]!["ename"]);
    }
}
