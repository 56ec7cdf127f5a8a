// SPDX-License-Identifier: MIT
using System.IO.Compression;
using NormNotebooks.Data;
using NormNotebooks.Tests.Support;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Data;

[Trait("Category", "Data")]
public sealed class FashionMnistTests
{
    private static readonly Lazy<(FashionMnistSplit Train, FashionMnistSplit Test)> Real = new(() => TestData.FashionMnistData);

    [Fact]
    public void Load_ReadsAllSeventyThousandImages_WithBalancedClasses()
    {
        var (train, test) = Real.Value;
        Assert.Equal(60_000, train.Count);
        Assert.Equal(10_000, test.Count);
        Assert.Equal(60_000 * 28 * 28, train.Pixels.Length);
        // The data set is balanced by construction: 6,000 training and 1,000 test images per class.
        Assert.All(train.Labels.CountBy(l => l), pair => Assert.Equal(6_000, pair.Value));
        Assert.All(test.Labels.CountBy(l => l), pair => Assert.Equal(1_000, pair.Value));
        Assert.Equal(10, FashionMnist.ClassNames.Count);
    }

    [Fact]
    public void PixelStatistics_MatchTheNormalisationConstants()
    {
        var pixels = Real.Value.Train.Pixels;
        double sum = 0, sumSquares = 0;
        foreach (var p in pixels)
        {
            var v = p / 255.0;
            sum += v;
            sumSquares += v * v;
        }
        var mean = sum / pixels.Length;
        var std = Math.Sqrt(sumSquares / pixels.Length - mean * mean);
        const int publishedDecimals = 5;   // the library's constants are given to 5 decimals (0.28604, 0.35302)
        Assert.Equal(FashionMnist.PixelMean, mean, publishedDecimals);
        Assert.Equal(FashionMnist.PixelStd, std, publishedDecimals);
    }

    [Fact]
    public void ToTensors_GivesNormalisedNchwFloatsAndInt64Labels()
    {
        using var scope = NewDisposeScope();
        var (images, labels) = Real.Value.Train.ToTensors(count: 5000);
        Assert.Equal([5000L, 1, 28, 28], images.shape);
        Assert.Equal(ScalarType.Float32, images.dtype);
        Assert.Equal(ScalarType.Int64, labels.dtype);
        Assert.Equal(Real.Value.Train.Labels[4999], labels[4999].item<long>());
        // Standardised with the training-set statistics: mean ≈ 0, std ≈ 1 on a large sample (measured 0.0003 and 1.004 for these 5,000).
        Assert.InRange(images.mean().item<float>(), -0.05, 0.05);
        Assert.InRange(images.std().item<float>(), 0.95, 1.05);
        var (raw, _) = Real.Value.Test.ToTensors(normalize: false, count: 10);
        Assert.Equal(Real.Value.Test.Pixels[100] / 255f, raw.flatten()[100].item<float>());   // the same float32 division
    }

    [Fact]
    public void Load_RejectsACorruptedFile_NamingIt()
    {
        var folder = CopyOfTheData();
        try
        {
            var labels = Path.Combine(folder, "t10k-labels-idx1-ubyte.gz");
            var content = Gunzip(labels);
            content[^1] = (byte)((content[^1] + 1) % 10);   // a different, still valid label
            Gzip(labels, content);
            var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(folder));
            Assert.Contains(labels, error.Message);
            Assert.Contains("SHA-256", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Load_RejectsATruncatedFile_NamingIt()
    {
        var folder = CopyOfTheData();
        try
        {
            var images = Path.Combine(folder, "t10k-images-idx3-ubyte.gz");
            Gzip(images, Gunzip(images)[..^784]);   // one image short
            var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(folder));
            Assert.Contains(images, error.Message);
            Assert.Contains("truncated", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string CopyOfTheData()
    {
        _ = Real.Value;   // fetches the data when missing
        var source = FashionMnist.Locate() ?? throw new InvalidOperationException("Fashion-MNIST should have been fetched by Load.");
        var folder = Directory.CreateTempSubdirectory("normnb-fmnist-").FullName;
        foreach (var file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    private static byte[] Gunzip(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        return buffer.ToArray();
    }

    private static void Gzip(string path, byte[] content)
    {
        using var gzip = new GZipStream(File.Create(path), CompressionLevel.Fastest);
        gzip.Write(content);
    }
}
