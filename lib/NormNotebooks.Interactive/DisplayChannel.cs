// SPDX-License-Identifier: MIT
using Microsoft.DotNet.Interactive.Formatting;

namespace NormNotebooks.Interactive;

/// <summary>One formatted rendering of a displayed value: MIME type → text.</summary>
public sealed record FormattedValue(string MimeType, string Value);

/// <summary>What a notebook cell displayed (or updated in place).</summary>
/// <param name="DisplayId">Identifies the output for later <see cref="Microsoft.DotNet.Interactive.DisplayedValue.Update"/> calls.</param>
/// <param name="Values">The renderings, preferred first; always including text/plain.</param>
/// <param name="IsUpdate">True when this replaces the output first published under <paramref name="DisplayId"/>.</param>
public sealed record DisplayEvent(string DisplayId, IReadOnlyList<FormattedValue> Values, bool IsUpdate);

/// <summary>
/// Where the kernel helpers send what cells display. The host (normnb's notebook engine) sets
/// <see cref="Sink"/>; without a host, displays go to the console as text/plain.
/// </summary>
public static class DisplayChannel
{
    /// <summary>Receives every display and update, in order.</summary>
    public static Action<DisplayEvent>? Sink { get; set; }

    /// <summary>Formats <paramref name="value"/> for the requested MIME types, or its preferred ones, plus text/plain.</summary>
    public static IReadOnlyList<FormattedValue> Format(object? value, IReadOnlyCollection<string> mimeTypes)
    {
        var wanted = mimeTypes.Count > 0
            ? mimeTypes.ToList()
            : value is null ? [PlainTextFormatter.MimeType] : Formatter.GetPreferredMimeTypesFor(value.GetType()).ToList();
        if (!wanted.Contains(PlainTextFormatter.MimeType))
            wanted.Add(PlainTextFormatter.MimeType);
        // A formatter that cannot render here (a chart image without a browser) returns "": leave that type out.
        return wanted.Distinct().Select(mime => new FormattedValue(mime, TableFormatter.TryFormat(value, mime) ?? value.ToDisplayString(mime)))
            .Where(v => v.Value.Length > 0 || v.MimeType == PlainTextFormatter.MimeType).ToList();
    }

    /// <summary>Publishes a display or an update.</summary>
    public static void Publish(DisplayEvent display)
    {
        if (Sink is { } sink)
            sink(display);
        else
            Console.WriteLine(display.Values.First(v => v.MimeType == PlainTextFormatter.MimeType).Value);
    }
}
