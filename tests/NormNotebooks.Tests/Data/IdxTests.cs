// SPDX-License-Identifier: MIT
using System.IO.Compression;
using NormNotebooks.Data;

namespace NormNotebooks.Tests.Data;

public sealed class IdxTests
{
    // A valid 2x3 unsigned-byte IDX image: magic 0x00000802, sizes 2 and 3, six values.
    private static byte[] Valid() => [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 10, 20, 30, 40, 50, 60];

    [Fact]
    public void Parse_ReadsDimensionsAndValues()
    {
        var array = Idx.Parse(Valid(), 2, "m.idx");
        Assert.Equal([2, 3], array.Dimensions);
        Assert.Equal([10, 20, 30, 40, 50, 60], array.Values);
        Assert.Equal(64, array.Sha256.Length);
    }

    [Theory]
    [InlineData(0, 1, "bad magic")]          // first byte not zero
    [InlineData(2, 0x0D, "element type 0x0D")] // float32 elements
    [InlineData(3, 3, "3 dimensions; expected 2")]
    [InlineData(7, 0, "dimension 0 has size 0")]
    public void Parse_RejectsBadHeaders_NamingTheFile(int index, byte value, string expected)
    {
        var raw = Valid();
        raw[index] = value;
        var error = Assert.Throws<InvalidDataException>(() => Idx.Parse(raw, 2, "/data/bad.idx"));
        Assert.Contains("/data/bad.idx", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Parse_RejectsTruncatedAndPaddedFiles()
    {
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Idx.Parse(Valid()[..^1], 2, "t.idx")).Message);
        Assert.Contains("holds 7", Assert.Throws<InvalidDataException>(() => Idx.Parse([.. Valid(), 70], 2, "p.idx")).Message);
        Assert.Contains("too short", Assert.Throws<InvalidDataException>(() => Idx.Parse([0, 0], 2, "s.idx")).Message);
        Assert.Contains("truncated header", Assert.Throws<InvalidDataException>(() => Idx.Parse(Valid()[..9], 2, "h.idx")).Message);
    }

    [Fact]
    public void ReadUnsignedBytes_ReadsGzip_AndRejectsAFileThatIsNotGzip()
    {
        var folder = Directory.CreateTempSubdirectory("normnb-idx-");
        try
        {
            var good = Path.Combine(folder.FullName, "good.gz");
            using (var gzip = new GZipStream(File.Create(good), CompressionLevel.Fastest))
                gzip.Write(Valid());
            Assert.Equal([2, 3], Idx.ReadUnsignedBytes(good, 2).Dimensions);

            var notGzip = Path.Combine(folder.FullName, "plain-named.gz");
            File.WriteAllBytes(notGzip, Valid());
            var error = Assert.Throws<InvalidDataException>(() => Idx.ReadUnsignedBytes(notGzip, 2));
            Assert.Contains(notGzip, error.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
