// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace NormNotebooks.Data;

/// <summary>An IDX array of unsigned bytes (LeCun's MNIST format): its dimensions and values, row-major.</summary>
/// <param name="Dimensions">Sizes, outermost first, e.g. [60000, 28, 28].</param>
/// <param name="Values">The values, row-major.</param>
/// <param name="Sha256">SHA-256 of the uncompressed file (header and values), lower-case hex.</param>
public sealed record IdxArray(int[] Dimensions, byte[] Values, string Sha256);

/// <summary>Reads IDX files (optionally gzip-compressed) with every header field validated.</summary>
/// <remarks>
/// Format (yann.lecun.com/exdb/mnist): a big-endian u32 magic 0x0000TTDD, where TT = 0x08 means unsigned
/// bytes and DD is the number of dimensions, then DD big-endian u32 sizes, then the values. The reader
/// refuses another element type, a dimension count other than the caller's, sizes that disagree with the
/// file's length (truncated or padded files), and names the file in every message.
/// </remarks>
public static class Idx
{
    /// <summary>Reads an unsigned-byte IDX file with exactly <paramref name="expectedRank"/> dimensions.</summary>
    /// <exception cref="InvalidDataException">The file is corrupt, truncated, not gzip although named .gz, or of another shape.</exception>
    public static IdxArray ReadUnsignedBytes(string path, int expectedRank)
    {
        byte[] raw;
        try
        {
            raw = path.EndsWith(".gz", StringComparison.Ordinal) ? Gunzip(path) : File.ReadAllBytes(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"IDX file '{path}': not a valid gzip stream ({e.Message}).", e);
        }
        return Parse(raw, expectedRank, path);
    }

    /// <summary>Parses an uncompressed IDX image; <paramref name="path"/> is used in messages only.</summary>
    public static IdxArray Parse(byte[] raw, int expectedRank, string path)
    {
        if (raw.Length < 4)
            throw new InvalidDataException($"IDX file '{path}': {raw.Length} bytes, too short for a header.");
        if (raw[0] != 0 || raw[1] != 0)
            throw new InvalidDataException($"IDX file '{path}': bad magic 0x{BinaryPrimitives.ReadUInt32BigEndian(raw):X8} (the first two bytes must be zero).");
        if (raw[2] != 0x08)
            throw new InvalidDataException($"IDX file '{path}': element type 0x{raw[2]:X2}; expected 0x08 (unsigned byte).");
        int rank = raw[3];
        if (rank != expectedRank)
            throw new InvalidDataException($"IDX file '{path}': {rank} dimensions; expected {expectedRank}.");
        var headerLength = 4 + 4 * rank;
        if (raw.Length < headerLength)
            throw new InvalidDataException($"IDX file '{path}': truncated header ({raw.Length} bytes, needs {headerLength}).");
        var dims = new int[rank];
        long count = 1;
        for (var i = 0; i < rank; i++)
        {
            var size = BinaryPrimitives.ReadUInt32BigEndian(raw.AsSpan(4 + 4 * i));
            if (size == 0 || size > int.MaxValue)
                throw new InvalidDataException($"IDX file '{path}': dimension {i} has size {size}.");
            dims[i] = (int)size;
            count *= size;
        }
        var payload = raw.Length - headerLength;
        if (payload != count)
            throw new InvalidDataException(
                $"IDX file '{path}': header says {string.Join('x', dims)} = {count} values but the file holds {payload} (truncated or corrupt).");
        var values = raw.AsSpan(headerLength).ToArray();
        return new IdxArray(dims, values, Convert.ToHexStringLower(SHA256.HashData(raw)));
    }

    private static byte[] Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        return buffer.ToArray();
    }
}
