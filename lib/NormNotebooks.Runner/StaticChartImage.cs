// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace NormNotebooks.Runner;

/// <summary>
/// Draws a chart's HTML snippet to PNG with headless Chromium (Debian package <c>chromium</c>), using the plotly.js
/// that Plotly.NET embeds, so no network is needed. Off when Chromium is missing or <c>NORMNB_CHART_IMAGES=0</c>.
/// </summary>
internal static partial class StaticChartImage
{
    // Declared before Chromium: static initialisers run in text order.
    private static readonly string[] ChromiumNames = ["chromium", "chromium-browser", "google-chrome"];
    private static readonly string? Chromium = FindChromium();
    private static string? _plotlyJs;

    /// <summary>Whether charts get a PNG next to their HTML.</summary>
    public static bool Available => Chromium is not null && _plotlyJs is not null
                                    && Environment.GetEnvironmentVariable("NORMNB_CHART_IMAGES") != "0";

    /// <summary>Extracts plotly.js from Plotly.NET's resources into the cache (once per version).</summary>
    public static void UsePlotlyJsFrom(Assembly plotlyNet)
    {
        var resource = plotlyNet.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".min.js", StringComparison.Ordinal));
        if (resource is null)
            return;
        var cache = Environment.GetEnvironmentVariable("NORMNB_CACHE") is { Length: > 0 } root ? root
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "normnotebooks");
        var target = Path.Combine(cache, "plotly", resource);
        if (!File.Exists(target))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var temp = $"{target}.{Environment.ProcessId}.tmp";
            using (var source = plotlyNet.GetManifestResourceStream(resource)!)
            using (var file = File.Create(temp))
                source.CopyTo(file);
            File.Move(temp, target, overwrite: true);
        }
        _plotlyJs = target;
    }

    /// <summary>The chart as a base64 PNG, or null when it cannot be drawn here.</summary>
    public static string? RenderPng(string snippet)
    {
        if (!Available)
            return null;
        var folder = Directory.CreateTempSubdirectory("normnb-chart-");
        try
        {
            var (width, height) = Size(snippet);
            var page = Path.Combine(folder.FullName, "chart.html");
            var png = Path.Combine(folder.FullName, "chart.png");
            File.WriteAllText(page, $"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script src=\"file://{_plotlyJs}\"></script></head>" +
                                    $"<style>.modebar-container{{display:none}}</style><body style=\"margin:0;background:white\">{snippet}</body></html>");
            var start = new ProcessStartInfo(Chromium!)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
                WorkingDirectory = folder.FullName,   // Chromium leaves an empty Cache folder in its working directory
            };
            foreach (var arg in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--allow-file-access-from-files",
                         $"--user-data-dir={Path.Combine(folder.FullName, "profile")}", $"--disk-cache-dir={Path.Combine(folder.FullName, "cache")}", $"--window-size={width},{height}",
                         "--virtual-time-budget=10000", $"--screenshot={png}", $"file://{page}",
                     })
                start.ArgumentList.Add(arg);
            using var process = Process.Start(start)!;
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
            return File.Exists(png) ? Convert.ToBase64String(File.ReadAllBytes(png)) : null;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static (int Width, int Height) Size(string snippet)
    {
        var width = LayoutWidth().Match(snippet);
        var height = LayoutHeight().Match(snippet);
        return (width.Success ? (int)double.Parse(width.Groups[1].Value, CultureInfo.InvariantCulture) : 700,
                height.Success ? (int)double.Parse(height.Groups[1].Value, CultureInfo.InvariantCulture) : 500);
    }

    private static string? FindChromium() =>
        ChromiumNames
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex("""var layout = \{"width":([0-9.]+)""")]
    private static partial Regex LayoutWidth();

    [GeneratedRegex("""var layout = \{(?:"width":[0-9.]+,)?"height":([0-9.]+)""")]
    private static partial Regex LayoutHeight();
}
