// SPDX-License-Identifier: MIT
using Microsoft.DotNet.Interactive;

namespace System;

/// <summary><c>x.Display()</c> and <c>"…".DisplayAs(mime)</c>, in namespace System as in .NET Interactive, so no using is needed.</summary>
public static class DisplayExtensions
{
    /// <summary>Displays the value as a new output.</summary>
    public static DisplayedValue Display(this object? value, params string[] mimeTypes) => DisplayedValue.Show(value, mimeTypes);

    /// <summary>Displays the string verbatim under <paramref name="mimeType"/> (e.g. text/html, text/markdown).</summary>
    public static DisplayedValue DisplayAs(this string value, string mimeType) => DisplayedValue.ShowRaw(value, mimeType);
}
