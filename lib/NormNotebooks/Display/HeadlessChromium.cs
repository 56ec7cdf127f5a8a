// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NormNotebooks.Display;

/// <summary>
/// One headless Chromium (Debian package <c>chromium</c>) per process, driven over the DevTools protocol, that draws chart pages
/// to PNG: started at the first image, reused for every later one, ended with the process. No network is used (pages and
/// plotly.js are local files). Off when Chromium is missing or <c>NORMNB_CHART_IMAGES=0</c>; <see cref="Problem"/> says why.
/// </summary>
internal sealed class HeadlessChromium : IDisposable
{
    // Not chromium-browser: on Ubuntu it is a snap that cannot read the chart pages in /tmp.
    private static readonly string[] Names = ["chromium", "google-chrome"];
    private static readonly Lock Gate = new();
    private static HeadlessChromium? _shared;
    private static string? _problem;

    private readonly Process _process;
    private readonly DirectoryInfo _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly string _session;
    private int _nextId;
    private int _disposed;

    /// <summary>Why images cannot be drawn here, or null when they can (as far as is known before the first one).</summary>
    public static string? Problem
    {
        get
        {
            lock (Gate)
                return _problem ??= Environment.GetEnvironmentVariable("NORMNB_CHART_IMAGES") == "0" ? "NORMNB_CHART_IMAGES=0"
                    : FindExecutable() is null ? "Chromium is not installed (apt-get install chromium)" : null;
        }
    }

    /// <summary>The page at <paramref name="url"/> as a base64 PNG of <paramref name="width"/>×<paramref name="height"/> pixels, once
    /// <c>window.__normnbDone</c> is true (or after 10 s); null with <see cref="Problem"/> set when it could not be drawn.</summary>
    public static string? Screenshot(string url, int width, int height)
    {
        lock (Gate)
        {
            if (Problem is not null)
                return null;
            try
            {
                _shared ??= Start();
                return _shared.Capture(url, width, height);
            }
#pragma warning disable CA1031 // a chart must show, with a warning, whatever the browser did: nothing here may fail the cell
            catch (Exception e)
#pragma warning restore CA1031
            {
                _problem = $"headless Chromium failed: {(e is AggregateException { InnerException: { } inner } ? inner.Message : e.Message)}";
                _shared?.Dispose();
                _shared = null;
                return null;
            }
        }
    }

    private static string? FindExecutable() =>
        Names.SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(folder => Path.Combine(folder, name)))
            .FirstOrDefault(File.Exists);

    // The browser runs in the background; a subshell waits for this process's end of the stdin pipe and then ends it (the subshell reads
    // the pipe through fd 3: an asynchronous command's own stdin is /dev/null, and it holds no output pipe, so the shell's stderr
    // closes as soon as the browser exits and a browser that fails at start is seen at once).
    private const string Watchdog = "exec 3<&0; \"$@\" </dev/null & pid=$!; (read -r _ <&3; kill $pid 2>/dev/null) >/dev/null 2>&1 & exec 3<&-; wait $pid";

    private static HeadlessChromium Start()
    {
        var profile = Runtime.ProcessFolders.Create("normnb-chromium");
        // Through a shell that ends the browser when this process's end closes its stdin, however this process ends (even SIGKILL, where
        // no exit handler runs): a browser must never outlive its notebook.
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = profile.FullName,   // Chromium leaves an empty Cache folder in its working directory
        };
        foreach (var arg in new[]
                 {
                     "-c", Watchdog, "sh", FindExecutable()!,
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--allow-file-access-from-files", "--mute-audio",
                     "--remote-debugging-port=0", $"--user-data-dir={Path.Combine(profile.FullName, "profile")}", "about:blank",
                 })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new IOException("Chromium did not start.");
        try
        {
            _ = process.StandardOutput.ReadToEndAsync();
            var endpoint = ReadEndpoint(process);
            _ = process.StandardError.ReadToEndAsync();   // keep draining, or Chromium blocks on a full pipe
            return new HeadlessChromium(process, profile, endpoint);
        }
        catch
        {
            Kill(process);
            Runtime.ProcessFolders.Delete(profile);
            throw;
        }
    }

    // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr once it accepts connections.
    private static Uri ReadEndpoint(Process process)
    {
        var reading = Task.Run(() =>
        {
            while (process.StandardError.ReadLine() is { } line)
            {
                var at = line.IndexOf("ws://", StringComparison.Ordinal);
                if (line.StartsWith("DevTools listening on", StringComparison.Ordinal) && at >= 0)
                    return new Uri(line[at..].Trim());
            }
            process.WaitForExit(2000);
            throw new IOException($"Chromium exited (code {(process.HasExited ? process.ExitCode : -1)}) before it listened for DevTools.");
        });
        if (!reading.Wait(TimeSpan.FromSeconds(30)))
            throw new TimeoutException("Chromium did not open its DevTools endpoint within 30 s.");
        return reading.GetAwaiter().GetResult();
    }

    private HeadlessChromium(Process process, DirectoryInfo profile, Uri endpoint)
    {
        (_process, _profile) = (process, profile);
        _socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using (var connecting = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            _socket.ConnectAsync(endpoint, connecting.Token).GetAwaiter().GetResult();
        if (_socket.State != WebSocketState.Open)
            throw new IOException("Could not connect to Chromium's DevTools endpoint.");
        var target = Call("Target.createTarget", new JsonObject { ["url"] = "about:blank" }, null)["targetId"]!.GetValue<string>();
        _session = Call("Target.attachToTarget", new JsonObject { ["targetId"] = target, ["flatten"] = true }, null)["sessionId"]!.GetValue<string>();
        Call("Page.enable", new JsonObject(), _session);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
    }

    private string Capture(string url, int width, int height)
    {
        Call("Emulation.setDeviceMetricsOverride", new JsonObject
        {
            ["width"] = width,
            ["height"] = height,
            ["deviceScaleFactor"] = 1,
            ["mobile"] = false,
        }, _session);
        Call("Page.navigate", new JsonObject { ["url"] = url }, _session);
        // Drawn means: this page (not the previous chart's, which the navigation may not have replaced yet) says it has drawn.
        var check = $"location.href === {JsonSerializer.Serialize(url)} && window.__normnbDone === true";
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var done = Call("Runtime.evaluate", new JsonObject { ["expression"] = check, ["returnByValue"] = true }, _session);
            if (done["result"]?["value"] is JsonValue value && value.TryGetValue<bool>(out var drawn) && drawn)
                break;
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
                throw new TimeoutException("the chart was not drawn within 10 s (plotly.js did not load, or the chart's script failed)");
            Thread.Sleep(20);
        }
        var shot = Call("Page.captureScreenshot", new JsonObject
        {
            ["format"] = "png",
            ["clip"] = new JsonObject { ["x"] = 0, ["y"] = 0, ["width"] = width, ["height"] = height, ["scale"] = 1 },
        }, _session);
        return shot["data"] is JsonValue data && data.TryGetValue<string>(out var png) ? png
            : throw new InvalidOperationException("Page.captureScreenshot returned no image");
    }

    private JsonNode Call(string method, JsonObject parameters, string? session)
    {
        var id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        if (session is not null)
            message["sessionId"] = session;
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        _socket.SendAsync(bytes, WebSocketMessageType.Text, true, timeout.Token).GetAwaiter().GetResult();
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var received = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = _socket.ReceiveAsync(buffer, timeout.Token).GetAwaiter().GetResult();
                if (result.MessageType == WebSocketMessageType.Close)
                    throw new IOException("Chromium closed the DevTools connection.");
                received.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            var reply = JsonNode.Parse(received.ToArray())!;
            if (reply["id"]?.GetValue<int>() != id)
                continue;   // an event, or a reply to nobody
            if (reply["error"] is { } error)
                throw new InvalidOperationException($"{method}: {error["message"]?.GetValue<string>() ?? error.ToJsonString()}");
            return reply["result"] ?? new JsonObject();
        }
    }

    /// <summary>Ends the browser and deletes its profile.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _socket.Dispose();
        Kill(_process);
        Runtime.ProcessFolders.Delete(_profile);
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }
}
