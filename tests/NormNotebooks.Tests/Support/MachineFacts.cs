// SPDX-License-Identifier: MIT
namespace NormNotebooks.Tests.Support;

/// <summary>Where the machine provides an optional tool; the tests that need one are skipped with a message saying what to install.</summary>
internal static class Machine
{
    public static string? Chromium { get; } = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);
}

/// <summary>A fact that needs Debian's <c>chromium</c> (static chart images); trait <c>Category=Chromium</c>.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Machine.Chromium is null)
            Skip = "Chromium is not installed (apt-get install chromium): static PNGs of charts are not drawn, so they are not tested.";
    }
}
