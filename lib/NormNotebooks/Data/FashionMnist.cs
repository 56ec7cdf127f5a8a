// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Data;

/// <summary>One split of Fashion-MNIST: <c>Count</c> grey-scale 28×28 images (bytes, row-major) and their labels 0–9.</summary>
public sealed class FashionMnistSplit
{
    /// <summary>Image side length in pixels.</summary>
    public const int Side = 28;

    internal FashionMnistSplit(string name, byte[] pixels, byte[] labels)
    {
        (Name, Pixels, Labels) = (name, pixels, labels);
    }

    /// <summary><c>train</c> or <c>test</c>.</summary>
    public string Name { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Raw pixels, <c>Count·28·28</c> bytes.</summary>
    public byte[] Pixels { get; }

    /// <summary>Class indices 0–9 (<see cref="FashionMnist.ClassNames"/>).</summary>
    public byte[] Labels { get; }

    /// <summary>
    /// The images as a float32 tensor [N, 1, 28, 28] and the labels as int64 [N], on <paramref name="device"/>.
    /// Pixels are scaled to [0, 1] and, with <paramref name="normalize"/>, standardised with the
    /// training set's mean and standard deviation (<see cref="FashionMnist.PixelMean"/>, <see cref="FashionMnist.PixelStd"/>).
    /// </summary>
    /// <param name="device">Where the tensors go; CPU when null.</param>
    /// <param name="normalize">Standardise the pixels (else they stay in [0, 1]).</param>
    /// <param name="count">Use only the first <paramref name="count"/> images (quick runs); all by default.</param>
    public (Tensor Images, Tensor Labels) ToTensors(Device? device = null, bool normalize = true, int? count = null)
    {
        var n = count ?? Count;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n, nameof(count));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, Count, nameof(count));
        using var scope = NewDisposeScope();
        var images = tensor(Pixels.AsSpan(0, n * Side * Side).ToArray(), [n, 1, Side, Side]).to(float32).div_(255.0);
        if (normalize)
            images = images.sub_(FashionMnist.PixelMean).div_(FashionMnist.PixelStd);
        var labels = tensor(Labels.AsSpan(0, n).ToArray(), [n]).to(int64);
        if (device is not null)
            (images, labels) = (images.to(device), labels.to(device));
        return (images.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope());
    }
}

/// <summary>Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747): 60,000 training and 10,000 test images of 10 clothing classes.</summary>
/// <remarks>
/// Files are looked for in: an explicit folder; <c>&lt;data root&gt;/fashion-mnist/</c> (<see cref="DataPaths.Root"/>);
/// then the Debian package <c>dataset-fashion-mnist</c>'s folder <c>/usr/share/datasets/fashion-mnist/</c>.
/// Each file is checked against the SHA-256 of its uncompressed content (recompressing, as Debian did, keeps it).
/// </remarks>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> installs the IDX files.</summary>
    public const string DebianFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The Debian package that provides the data.</summary>
    public const string DebianPackage = "dataset-fashion-mnist";

    /// <summary>Mean of the training pixels scaled to [0, 1] (measured by <c>FashionMnistTests</c>).</summary>
    public const double PixelMean = 0.28604;

    /// <summary>Standard deviation of the training pixels scaled to [0, 1] (measured by <c>FashionMnistTests</c>).</summary>
    public const double PixelStd = 0.35302;

    /// <summary>Class names in label order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>The four files: base name, IDX rank, expected item count, SHA-256 of the uncompressed file.</summary>
    public static IReadOnlyList<(string File, int Rank, int Count, string Sha256)> Files { get; } =
    [
        ("train-images-idx3-ubyte", 3, 60_000, "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        ("train-labels-idx1-ubyte", 1, 60_000, "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ("t10k-images-idx3-ubyte", 3, 10_000, "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        ("t10k-labels-idx1-ubyte", 1, 10_000, "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ];

    /// <summary>Folders searched, in order.</summary>
    public static IReadOnlyList<string> SearchFolders(string? folder = null)
    {
        var folders = new List<string>();
        if (folder is not null)
            folders.Add(Path.GetFullPath(folder));
        folders.Add(Path.Combine(DataPaths.Root(), "fashion-mnist"));
        folders.Add(DebianFolder);
        return folders.Distinct().ToList();
    }

    /// <summary>The first folder that holds all four files (gzip or plain), or null.</summary>
    public static string? Locate(string? folder = null) =>
        SearchFolders(folder).FirstOrDefault(dir => Files.All(f => FindFile(dir, f.File) is not null));

    /// <summary>Loads both splits from the files already on disk; headers, counts and checksums are verified. Nothing is installed or
    /// downloaded here: <c>normnb data</c> (or <see cref="DataFetcher.EnsureFashionMnist"/>) fetches missing data.</summary>
    /// <param name="folder">An explicit folder to look in first.</param>
    /// <exception cref="FileNotFoundException">The files are in none of <see cref="SearchFolders"/>; the message says how to get them.</exception>
    public static (FashionMnistSplit Train, FashionMnistSplit Test) Load(string? folder = null)
    {
        var dir = Locate(folder) ?? throw new FileNotFoundException(
            $"Fashion-MNIST not found (searched {string.Join(", ", SearchFolders(folder))}). Fetch and verify it with `normnb data` " +
            $"(dotnet run --project lib/NormNotebooks.Cli -c Release -- data) or DataFetcher.EnsureFashionMnist(), or install the Debian package " +
            $"{DebianPackage}, or put the four IDX files (gzip or plain) in '{Path.Combine(DataPaths.Root(), "fashion-mnist")}'.");
        var arrays = Files.Select(f => ReadVerified(dir, f.File, f.Rank, f.Count, f.Sha256)).ToArray();
        return (new FashionMnistSplit("train", arrays[0].Values, arrays[1].Values),
                new FashionMnistSplit("test", arrays[2].Values, arrays[3].Values));
    }

    private static IdxArray ReadVerified(string dir, string baseName, int rank, int count, string sha256)
    {
        var path = FindFile(dir, baseName) ?? throw new FileNotFoundException($"Fashion-MNIST: '{baseName}(.gz)' is missing from '{dir}'.");
        var array = Idx.ReadUnsignedBytes(path, rank);
        if (array.Dimensions[0] != count)
            throw new InvalidDataException($"Fashion-MNIST file '{path}': {array.Dimensions[0]} items; expected {count}.");
        if (rank == 3 && (array.Dimensions[1] != FashionMnistSplit.Side || array.Dimensions[2] != FashionMnistSplit.Side))
            throw new InvalidDataException($"Fashion-MNIST file '{path}': images are {array.Dimensions[1]}x{array.Dimensions[2]}; expected 28x28.");
        if (rank == 1 && array.Values.Any(label => label > 9))
            throw new InvalidDataException($"Fashion-MNIST file '{path}': a label is outside 0-9.");
        if (array.Sha256 != sha256)
            throw new InvalidDataException($"Fashion-MNIST file '{path}': SHA-256 of its content is {array.Sha256}; expected {sha256} (corrupt or a different release).");
        return array;
    }

    private static string? FindFile(string dir, string baseName) =>
        new[] { baseName + ".gz", baseName }.Select(name => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}
