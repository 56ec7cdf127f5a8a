// SPDX-License-Identifier: MIT
using System.Reflection;
using System.Runtime.Loader;

namespace NormNotebooks.Runtime;

/// <summary>
/// Lets Plotly.NET run inside the <c>dotnet-interactive</c> tool (VS Code's Polyglot Notebooks, Jupyter's <c>.net-csharp</c>
/// kernel). The tool loads its own FSharp.Core 10.0 before any cell runs; Plotly.NET 6 is built against FSharp.Core 10.1, and the
/// runtime will not load a second, higher copy, so the first chart failed with "Could not load file or assembly 'FSharp.Core,
/// Version=10.1.0.0'". When that request fails, this resolver answers it with the FSharp.Core already loaded. It does nothing where
/// the requested version loads normally (under <c>normnb run</c>, whose kernel carries 10.1, and in ordinary programs).
/// </summary>
internal static class FSharpCoreBinding
{
    /// <summary>Called first by the library's initializer (<see cref="LibraryInitializer"/>).</summary>
    internal static void Register() => AssemblyLoadContext.Default.Resolving += Resolve;

    /// <summary>The loaded FSharp.Core for a request of FSharp.Core that the default context could not satisfy; null otherwise.</summary>
    internal static Assembly? Resolve(AssemblyLoadContext context, AssemblyName name) =>
        name.Name == "FSharp.Core" ? context.Assemblies.FirstOrDefault(a => a.GetName().Name == "FSharp.Core") : null;
}
