// SPDX-License-Identifier: MIT
using Microsoft.AspNetCore.Html;
using NormNotebooks.Interactive;

namespace Microsoft.DotNet.Interactive;

/// <summary>
/// The helpers a .NET Interactive C# cell sees through <c>using static Microsoft.DotNet.Interactive.Kernel;</c>,
/// with the same names and signatures, so cells compile unchanged under VS Code and under <c>normnb run</c>.
/// </summary>
public static class Kernel
{
    /// <summary>Displays <paramref name="value"/> as a new output, formatted for <paramref name="mimeTypes"/> (or its preferred types).</summary>
    public static DisplayedValue display(object? value, params string[] mimeTypes) => DisplayedValue.Show(value, mimeTypes);

    /// <summary>Wraps raw HTML so that displaying or returning it emits it verbatim as text/html.</summary>
    public static IHtmlContent HTML(string content) => new HtmlString(content);

    /// <summary>Displays a script block (text/html), as .NET Interactive does.</summary>
    public static void Javascript(string scriptContent) =>
        DisplayedValue.Show(new HtmlString($"<script type=\"text/javascript\">{scriptContent}</script>"), ["text/html"]);

    /// <summary>Displays a style sheet (text/html).</summary>
    public static void CSS(string content) =>
        DisplayedValue.Show(new HtmlString($"<style>{content}</style>"), ["text/html"]);
}

/// <summary>A displayed output that can be replaced in place with <see cref="Update"/>.</summary>
public sealed class DisplayedValue
{
    private readonly string[] _mimeTypes;

    private DisplayedValue(string displayId, string[] mimeTypes)
    {
        DisplayId = displayId;
        _mimeTypes = mimeTypes;
    }

    /// <summary>The output's identity.</summary>
    public string DisplayId { get; }

    /// <summary>The MIME types asked for when it was displayed (empty: the value's preferred types).</summary>
    public IReadOnlyCollection<string> MimeTypes => _mimeTypes;

    /// <summary>Replaces the output with <paramref name="updatedValue"/>, formatted as before.</summary>
    public void Update(object? updatedValue) =>
        DisplayChannel.Publish(new DisplayEvent(DisplayId, DisplayChannel.Format(updatedValue, _mimeTypes), IsUpdate: true));

    internal static DisplayedValue Show(object? value, string[] mimeTypes)
    {
        var displayed = new DisplayedValue(Guid.NewGuid().ToString("N"), mimeTypes);
        DisplayChannel.Publish(new DisplayEvent(displayed.DisplayId, DisplayChannel.Format(value, mimeTypes), IsUpdate: false));
        return displayed;
    }

    internal static DisplayedValue ShowRaw(string value, string mimeType)
    {
        var displayed = new DisplayedValue(Guid.NewGuid().ToString("N"), [mimeType]);
        IReadOnlyList<FormattedValue> values = mimeType == "text/plain"
            ? [new FormattedValue(mimeType, value)]
            : [new FormattedValue(mimeType, value), new FormattedValue("text/plain", value)];
        DisplayChannel.Publish(new DisplayEvent(displayed.DisplayId, values, IsUpdate: false));
        return displayed;
    }
}
