// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Runner;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>Runs Notebooks/semantics.ipynb once through <c>normnb run --quick --allow-errors</c> and checks every cell's outputs exactly.</summary>
public sealed class RunnerSemanticsTests : IClassFixture<RunnerSemanticsTests.Executed>
{
    public sealed class Executed : IDisposable
    {
        public Executed()
        {
            Scratch = new NotebookScratch();
            Source = Scratch.Copy("semantics.ipynb");
            Directory.CreateDirectory(Path.Combine(Scratch.Folder, "lib"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "ICSharpCode.SharpZipLib.dll"), Path.Combine(Scratch.Folder, "lib", "ICSharpCode.SharpZipLib.dll"));
            SourceBytes = File.ReadAllBytes(Source);
            var output = Path.Combine(Scratch.Folder, "out");
            (ExitCode, Stdout, Stderr) = Run(Source, "--quick", "--allow-errors", "--output", output);
            OutputPath = Path.Combine(output, "semantics.ipynb");
            Notebook = Read(OutputPath);
        }

        public NotebookScratch Scratch { get; }
        public string Source { get; }
        public byte[] SourceBytes { get; }
        public string OutputPath { get; }
        public int ExitCode { get; }
        public string Stdout { get; }
        public string Stderr { get; }
        public JsonObject Notebook { get; }

        public void Dispose() => Scratch.Dispose();
    }

    private readonly Executed _run;

    public RunnerSemanticsTests(Executed run) => _run = run;

    private JsonArray Out(string id) => Outputs(_run.Notebook, id);

    private static JsonObject Single(JsonArray outputs, int index, string type)
    {
        var output = (JsonObject)outputs[index]!;
        Assert.Equal(type, (string?)output["output_type"]);
        return output;
    }

    [Fact]
    public void Run_CompletesWithErrorsAllowed_AndLeavesTheSourceUntouched()
    {
        Assert.True(_run.ExitCode == 0, _run.Stdout + _run.Stderr);
        Assert.Contains("⚠ semantics.ipynb", _run.Stdout);
        Assert.Equal(_run.SourceBytes, File.ReadAllBytes(_run.Source));
    }

    [Fact]
    public void StdoutThenTrailingExpression_GiveAStreamAndAnExecuteResult()
    {
        var outputs = Out("c-stdout-result");
        Assert.Equal(2, outputs.Count);
        var stream = Single(outputs, 0, "stream");
        Assert.Equal("stdout", (string?)stream["name"]);
        Assert.Equal("hello\n", Text(stream["text"]));
        var result = Single(outputs, 1, "execute_result");
        Assert.Equal(1, (int)result["execution_count"]!);
        Assert.Equal("42", Text(result["data"]!["text/plain"]));
        Assert.StartsWith("<div class=\"dni-plaintext\"><pre>42</pre></div>", Text(result["data"]!["text/html"]));
    }

    [Fact]
    public void Outputs_KeepTheirTrueOrder_AndStringsDisplayAsPlainText()
    {
        var outputs = Out("c-order");
        Assert.Equal(4, outputs.Count);
        var display = Single(outputs, 0, "display_data");
        Assert.Equal(["text/plain"], ((JsonObject)display["data"]!).Select(p => p.Key));
        Assert.Equal("a string", Text(display["data"]!["text/plain"]));
        Assert.Equal("to stderr\n", Text(Single(outputs, 1, "stream")["text"]));
        Assert.Equal("stderr", (string?)outputs[1]!["name"]);
        Assert.Equal("stdout", (string?)Single(outputs, 2, "stream")["name"]);
        Assert.Equal("252", Text(Single(outputs, 3, "execute_result")["data"]!["text/plain"]));
    }

    [Fact]
    public void Update_ReplacesTheDisplayedOutputInPlace()
    {
        // The kernel's own display() returns a value whose id is not the published one's (1.0.0-beta.26120.1); normnb's prelude mends it.
        var outputs = Out("c-update");
        Assert.Single(outputs);
        Assert.Equal("step 3", Text(Single(outputs, 0, "display_data")["data"]!["text/plain"]));
    }

    [Fact]
    public void HtmlAndDisplayAs_EmitRawHtml()
    {
        Assert.Equal("<b>bold</b>", Text(Single(Out("c-html"), 0, "execute_result")["data"]!["text/html"]));
        var outputs = Out("c-displayas");
        Assert.Equal(2, outputs.Count);
        Assert.Equal("<i>italic</i>", Text(Single(outputs, 0, "display_data")["data"]!["text/html"]));
        Assert.Equal("plain", Text(Single(outputs, 1, "display_data")["data"]!["text/plain"]));
    }

    [Fact]
    public void TimeMagic_AppendsTheWallTime_AndAStatementHasNoResult()
    {
        var outputs = Out("c-time");
        Assert.Single(outputs);
        Assert.Matches(@"^Wall time: [0-9.]+ms$", Text(Single(outputs, 0, "display_data")["data"]!["text/plain"]));
    }

    [Fact]
    public void MarkdownMagic_RendersHtml()
    {
        var html = Text(Single(Out("c-markdown"), 0, "display_data")["data"]!["text/html"]);
        Assert.Contains("<h2", html);
        Assert.Contains("<em>here</em>", html);
    }

    [Fact]
    public void Exception_GivesAnErrorNamingCellAndLine_AndKeepsTheStateBuiltBeforeIt()
    {
        var error = Single(Out("c-exception"), 0, "error");
        Assert.Equal("System.InvalidOperationException", (string?)error["ename"]);
        Assert.Equal("deliberate", (string?)error["evalue"]);
        Assert.StartsWith("Cell 9, line 2: System.InvalidOperationException: deliberate", (string?)error["traceback"]![0]);
        Assert.Equal("before,still here", Text(Single(Out("c-state"), 0, "execute_result")["data"]!["text/plain"]));
    }

    [Fact]
    public void CompileError_IsFormattedLikeTheCSharpKernel()
    {
        var error = Single(Out("c-compile"), 0, "error");
        Assert.Equal("CompilationError", (string?)error["ename"]);
        Assert.Equal("(1,13): error CS0029: Cannot implicitly convert type 'string' to 'int'", (string?)error["evalue"]);
        Assert.Equal("Cell 11, line 1: compilation failed", (string?)error["traceback"]![0]);
    }

    [Fact]
    public void RelativeDllReference_ResolvesAgainstTheNotebookFolder()
    {
        // zlib.crc32(b"normnb") == 1101355308 (Python), an independent reference for SharpZipLib's Crc32.
        Assert.Equal("1101355308", Text(Single(Out("c-dll"), 0, "execute_result")["data"]!["text/plain"]));
        Assert.Equal("True", Text(Single(Out("c-cwd"), 0, "execute_result")["data"]!["text/plain"]));
    }

    [Fact]
    public void NullResult_IsShownAsNull_AndQuickModeAndOneMallocArenaAreVisible()
    {
        Assert.Equal("<null>", Text(Single(Out("c-null"), 0, "execute_result")["data"]!["text/plain"]));
        var tunables = Environment.GetEnvironmentVariable("NORMNB_MALLOC") == "system"
            ? Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? ""
            : NotebookRunner.WithOneMallocArena(Environment.GetEnvironmentVariable("GLIBC_TUNABLES"));
        Assert.Equal($"1\n{tunables}\n", Text(Single(Out("c-quick"), 0, "stream")["text"]));
    }

    [Theory]
    [InlineData(null, "glibc.malloc.arena_max=1")]
    [InlineData("", "glibc.malloc.arena_max=1")]
    [InlineData("glibc.malloc.tcache_count=0", "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1")]
    [InlineData("glibc.malloc.arena_max=4", "glibc.malloc.arena_max=4")]
    [InlineData("glibc.pthread.rseq=0:glibc.malloc.arena_max=2", "glibc.pthread.rseq=0:glibc.malloc.arena_max=2")]
    public void OneMallocArena_IsAddedToTheTunables_UnlessTheUserSetTheArenas(string? tunables, string expected) =>
        Assert.Equal(expected, NotebookRunner.WithOneMallocArena(tunables));

    [Fact]
    public void ExecutionCounts_NumberTheCodeCellsInOrder()
    {
        var counts = ((JsonArray)_run.Notebook["cells"]!).Where(c => (string?)c!["cell_type"] == "code")
            .Select(c => (int?)c!["execution_count"]).ToList();
        Assert.Equal(Enumerable.Range(1, counts.Count).Select(i => (int?)i), counts);
    }

    [Fact]
    public void Writing_PreservesMarkdownCellsUnknownMetadataAndIndentation()
    {
        var original = Read(_run.Source);
        Assert.Equal(original["cells"]![0]!.ToJsonString(), _run.Notebook["cells"]![0]!.ToJsonString());
        Assert.Equal(original["metadata"]!.ToJsonString(), _run.Notebook["metadata"]!.ToJsonString());
        var text = File.ReadAllText(_run.OutputPath);
        Assert.StartsWith("{\n  \"cells\": [\n    {", text);   // the source's two-space indentation
        Assert.EndsWith("}\n", text);
    }

    [Fact]
    public void Output_IsValidNbformat_AgainstJupytersSchema()
    {
        var problems = NbformatValidator.Problems(_run.OutputPath);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
