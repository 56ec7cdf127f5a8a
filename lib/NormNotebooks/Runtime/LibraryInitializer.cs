// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using NormNotebooks.Display;

namespace NormNotebooks.Runtime;

/// <summary>
/// What runs when the library is first used, in this order (one initializer, so the order is defined): the native heap's settings
/// (before libtorch allocates), the FSharp.Core binding (before anything can load Plotly.NET), TorchSharp's native-library resolver
/// (before its first P/Invoke), and, inside a .NET Interactive kernel, the notebook formatters.
/// </summary>
internal static class LibraryInitializer
{
#pragma warning disable CA2255 // A library module initializer is the point: these must be in place before a cell's first call reaches them.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        NativeHeap.Configure();
        FSharpCoreBinding.Register();
        TorchRuntime.RegisterResolver();
        NotebookFormatters.RegisterOnLoad();
    }
}
