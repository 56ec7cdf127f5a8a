// SPDX-License-Identifier: MIT
using System.Reflection;
using System.Runtime.Loader;
using NormNotebooks.Runtime;

namespace NormNotebooks.Tests.Runtime;

/// <summary>The resolver that lets Plotly.NET (built against FSharp.Core 10.1) run in the dotnet-interactive tool, which loads 10.0 first.
/// The tool itself is exercised by <c>.ci/jupyter-execute</c>.</summary>
public sealed class FSharpCoreBindingTests
{
    [Fact]
    public void AFailedRequestForFSharpCore_IsAnsweredWithTheLoadedCopy_AndNothingElseIsTouched()
    {
        var loaded = typeof(Microsoft.FSharp.Core.Unit).Assembly;   // loads FSharp.Core into the default context
        var wanted = new AssemblyName($"FSharp.Core, Version={loaded.GetName().Version!.Major + 1}.0.0.0, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a");
        Assert.Same(loaded, FSharpCoreBinding.Resolve(AssemblyLoadContext.Default, wanted));
        Assert.Null(FSharpCoreBinding.Resolve(AssemblyLoadContext.Default, new AssemblyName("Plotly.NET")));
        Assert.Null(FSharpCoreBinding.Resolve(new AssemblyLoadContext("empty", isCollectible: true), wanted));
    }
}
