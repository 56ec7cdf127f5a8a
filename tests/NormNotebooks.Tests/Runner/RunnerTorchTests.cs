// SPDX-License-Identifier: MIT
using System.Text.Json.Nodes;
using NormNotebooks.Reporting;
using NormNotebooks.Runner;
using NormNotebooks.Runtime;
using NormNotebooks.Tests.Support;
using static NormNotebooks.Tests.Support.NotebookScratch;

namespace NormNotebooks.Tests.Runner;

/// <summary>TorchSharp inside a notebook: #r "nuget: TorchSharp-cpu" plus the library loads natively (patched where needed), tensors display abbreviated and sequences of records as tables.</summary>
[Trait("Category", "Packages")]
public sealed class RunnerTorchTests
{
    [Fact]
    public void TorchSharpInANotebook_LoadsAndDisplaysTensors()
    {
        using var scratch = new NotebookScratch();
        var source = scratch.Copy("torch.ipynb");
        Directory.CreateDirectory(Path.Combine(scratch.Folder, "lib"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "NormNotebooks.dll"), Path.Combine(scratch.Folder, "lib", "NormNotebooks.dll"));
        var (exit, stdout, stderr) = Run(source, "--output", Path.Combine(scratch.Folder, "out"));
        Assert.True(exit == 0, stdout + stderr);
        var notebook = Read(Path.Combine(scratch.Folder, "out", "torch.ipynb"));

        var route = Text(Outputs(notebook, "x-load").Last()!["data"]!["text/plain"]);
        Assert.Equal(TorchRuntime.EnsureLoaded().Path, route);   // the same decision as in this test process
        Assert.Equal("[2x3], type = Int64, device = cpu\n 0 1 2\n 3 4 5\n", Text(Outputs(notebook, "x-small")[0]!["data"]!["text/plain"]));

        var large = Text(Outputs(notebook, "x-large")[0]!["data"]!["text/plain"]);
        Assert.StartsWith("[1000x1000], type = Float32, device = cpu\n(first 6 entries along each axis of 1000x1000; 1,000,000 values in all)\n", large);
        Assert.Equal(2 + 6, large.TrimEnd('\n').Split('\n').Length);
        Assert.StartsWith("<div><pre>[1000x1000]", Text(Outputs(notebook, "x-large")[0]!["data"]!["text/html"]));

        // The library's table formatter, registered with the kernel's formatter when the library loads (as in VS Code and Jupyter).
        static JsonNode Data(JsonObject notebook, string id) => Outputs(notebook, id).Last()!["data"]!;
        Assert.Equal("Norm       Loss    Steps\n---------  ------  -----\nlayernorm  1.2345  300\nrmsnorm    1.2301  300", Text(Data(notebook, "t-records")["text/plain"]));
        Assert.Equal("<table><thead><tr><th>Norm</th><th>Loss</th><th>Steps</th></tr></thead><tbody>" +
                     "<tr><td>layernorm</td><td>1.2345</td><td>300</td></tr><tr><td>rmsnorm</td><td>1.2301</td><td>300</td></tr></tbody></table>",
            Text(Data(notebook, "t-records")["text/html"]));
        Assert.Equal("Item1    Item2\n-------  -----\npre-ln   0.5\npost-ln  0.75", Text(Data(notebook, "t-tuples")["text/plain"]));
    }

    /// <summary>The register a notebook declares and judges, displayed the way every notebook displays it, arrives in the run summary
    /// field for field as <see cref="ClaimsRegister.ToJson"/> wrote it.</summary>
    [Fact]
    public void ClaimsRegister_DisplayedByANotebook_ArrivesInTheRunSummaryUnchanged()
    {
        Assert.Equal(ClaimsRegister.MimeType, NotebookRunner.ClaimsMimeType);
        using var scratch = new NotebookScratch();
        Directory.CreateDirectory(Path.Combine(scratch.Folder, "lib"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "NormNotebooks.dll"), Path.Combine(scratch.Folder, "lib", "NormNotebooks.dll"));
        var path = scratch.Write("claims.ipynb",
            """
            #r "nuget: TorchSharp-cpu, 0.107.0"
            #r "nuget: MathNet.Numerics, 5.0.0"
            #r "lib/NormNotebooks.dll"
            using NormNotebooks.Reporting;
            var register = new ClaimsRegister(quick: false)
                .DeclareExact("same", "x equals y", "max |Δ|", 1e-6, "identity")
                .DeclareEffect("lower", "the method lowers the loss", "validation loss, method − baseline", "nats/char", -0.05, "Table 1: −0.05")
                .DeclareEquivalence("match", "the method matches the baseline", "accuracy, method − baseline", "%", 0.5, "Fig. 2");
            register.JudgeExact("same", 3e-7);
            register.Judge("lower", new[] { -0.03, -0.02, -0.04 });
            register.JudgeOutOfRegime("match", "the model is below the trigram baseline", new[] { 0.1, -0.2, 0.3 });
            register.ToJson().DisplayAs(ClaimsRegister.MimeType);
            """);
        var (exit, stdout, stderr) = Run(path);
        Assert.True(exit == 0, stdout + stderr);

        var expected = new ClaimsRegister(quick: false)
            .DeclareExact("same", "x equals y", "max |Δ|", 1e-6, "identity")
            .DeclareEffect("lower", "the method lowers the loss", "validation loss, method − baseline", "nats/char", -0.05, "Table 1: −0.05")
            .DeclareEquivalence("match", "the method matches the baseline", "accuracy, method − baseline", "%", 0.5, "Fig. 2");
        expected.JudgeExact("same", 3e-7);
        expected.Judge("lower", [-0.03, -0.02, -0.04]);
        expected.JudgeOutOfRegime("match", "the model is below the trigram baseline", [0.1, -0.2, 0.3]);
        var summary = Read(Path.Combine(scratch.Folder, ".runs", "claims.run.json"));
        var claims = summary["claims"]!.AsArray();
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected.ToJson()), claims), claims.ToJsonString());
        Assert.Equal(["held", "held", "inconclusive"], claims.Select(c => (string?)c!["verdict"]));
        Assert.Equal(3, (int)claims[1]!["n"]!);
        Assert.True((double)claims[1]!["upper"]! < 0);
        var saved = Read(path)["cells"]!.AsArray().Single()!["outputs"]!.AsArray().Select(o => o!["data"]?[ClaimsRegister.MimeType]).Single(d => d is not null);
        Assert.True(JsonNode.DeepEquals(claims, saved), "the notebook keeps the claims as JSON, not as text lines");
        // …with a readable text/plain alternative for text front-ends, exports and GitHub, which ignore the JSON type.
        var text = Read(path)["cells"]!.AsArray().Single()!["outputs"]!.AsArray().Select(o => o!["data"]).Single(d => d?[ClaimsRegister.MimeType] is not null)!["text/plain"];
        var lines = Text(text).Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("[held] x equals y: ", lines[0]);
        Assert.StartsWith("[inconclusive] the method matches the baseline", lines[2]);
    }
}
