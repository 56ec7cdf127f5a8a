// SPDX-License-Identifier: MIT
using System.Reflection;

namespace NormNotebooks.Runner;

/// <summary>Runs a registration for every assembly already loaded and every one loaded later (how formatters find chart and tensor types by name).</summary>
internal static class AssemblyWatch
{
    public static void ForEachLoaded(Action<Assembly> register)
    {
        AppDomain.CurrentDomain.AssemblyLoad += (_, e) => register(e.LoadedAssembly);
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            register(assembly);
    }
}
