// SPDX-License-Identifier: MIT
using System.Runtime.CompilerServices;
using NormNotebooks.Runtime;

namespace NormNotebooks.Tests.Support;

internal static class TorchSetup
{
#pragma warning disable CA2255 // Tests call TorchSharp directly, sometimes before any NormNotebooks type: load it first, once.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void LoadTorch() => TorchRuntime.EnsureLoaded();
}
