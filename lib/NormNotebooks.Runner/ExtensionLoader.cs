// SPDX-License-Identifier: MIT
using System.Runtime.Loader;
using Microsoft.DotNet.Interactive;
using Microsoft.DotNet.Interactive.PackageManagement;

namespace NormNotebooks.Runner;

/// <summary>
/// Loads the kernel extensions a NuGet package carries in <c>interactive-extensions/dotnet</c> (e.g. Plotly.NET.Interactive's
/// chart formatter), as the <c>dotnet-interactive</c> tool does after <c>#r "nuget:"</c>; the package alone does not.
/// </summary>
internal static class ExtensionLoader
{
    public static async Task LoadAsync(ResolvedPackageReference package, Kernel root)
    {
        var folder = Path.Combine(package.PackageRoot, "interactive-extensions", "dotnet");
        if (!Directory.Exists(folder))
            return;
        foreach (var file in Directory.EnumerateFiles(folder, "*.dll").Order(StringComparer.Ordinal))
        {
            // The copy under lib/ that the cell just referenced, when there is one, so extension and cells share its types.
            var path = package.AssemblyPaths.FirstOrDefault(a => Path.GetFileName(a) == Path.GetFileName(file)) ?? file;
            var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
            foreach (var type in assembly.GetExportedTypes().Where(t => typeof(IKernelExtension).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }))
                await ((IKernelExtension)Activator.CreateInstance(type)!).OnLoadAsync(root);
        }
    }
}
