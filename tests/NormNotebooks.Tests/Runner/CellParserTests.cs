// SPDX-License-Identifier: MIT
using NormNotebooks.Runner;

namespace NormNotebooks.Tests.Runner;

public sealed class CellParserTests
{
    [Fact]
    public void NuGetLines_AreHoisted_AndBlankedSoLineNumbersStay()
    {
        var plan = CellParser.Parse("#i \"nuget: /feed\"\n#r \"nuget: A.B, 1.0\"\n#r \"nuget:C\"\n#r \"x.dll\"\nvar y = 1;", "csharp", 1);
        Assert.Equal(CellKind.CSharp, plan.Kind);
        Assert.Equal([new PackageRequest("A.B", "1.0"), new PackageRequest("C", null)], plan.Packages);
        Assert.Equal(["/feed"], plan.Sources);
        Assert.Equal("\n\n\n#r \"x.dll\"\nvar y = 1;", plan.Code);
    }

    [Theory]
    [InlineData("#!csharp\n1", CellKind.CSharp)]
    [InlineData("#!c#\n1", CellKind.CSharp)]
    [InlineData("#!markdown\n# t", CellKind.Markdown)]
    [InlineData("#!fsharp\n1", CellKind.Unsupported)]
    [InlineData("#!set --name x --value 1", CellKind.Unsupported)]
    [InlineData("1\n#!markdown", CellKind.Unsupported)]
    public void Magics_SelectHowTheCellRuns(string source, CellKind kind) =>
        Assert.Equal(kind, CellParser.Parse(source, "csharp", 3).Kind);

    [Fact]
    public void ACellOfAnotherKernel_IsUnsupported_NamingIt()
    {
        var plan = CellParser.Parse("printfn \"hi\"", "fsharp", 4);
        Assert.Equal(CellKind.Unsupported, plan.Kind);
        Assert.Equal("Cell 4 is a 'fsharp' cell; normnb runs C# cells only (kernel 'csharp').", plan.Error);
    }

    [Fact]
    public void MalformedPackageLine_IsAnError()
    {
        var plan = CellParser.Parse("#r \"nuget: A, 1, 2\"", "csharp", 2);
        Assert.Equal(CellKind.Unsupported, plan.Kind);
        Assert.Contains("is not 'Name' or 'Name, Version'", plan.Error);
    }

    [Theory]
    [InlineData("21", "21")]
    [InlineData("-3", "-3")]
    [InlineData("10000000000", "10000000000L")]
    [InlineData("0.5", "0.5")]
    [InlineData("1e5", "100000.0")]
    [InlineData("true", "true")]
    [InlineData("it's \"q\"", "\"it\\u0027s \\u0022q\\u0022\"")]
    public void ParameterValues_BecomeCSharpLiterals(string value, string literal) =>
        Assert.Equal(literal, NotebookRunner.CSharpLiteral(value));
}
