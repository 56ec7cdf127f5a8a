// SPDX-License-Identifier: MIT
using System.Buffers.Binary;
using System.Text;

namespace NormNotebooks.Runtime;

/// <summary>One version requirement of a shared object: <c>File</c> must provide symbol version <c>Name</c>.</summary>
/// <param name="File">The needed library's soname, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Name">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="Flags">The entry's <c>vna_flags</c>; bit 0x2 is <c>VER_FLG_WEAK</c>.</param>
/// <param name="FlagsOffset">Byte offset of <c>vna_flags</c> in the file.</param>
public sealed record ElfVersionNeed(string File, string Name, ushort Flags, long FlagsOffset)
{
    /// <summary>True when the dynamic linker only warns if the version is missing.</summary>
    public bool IsWeak => (Flags & ElfVersionNeeds.VerFlagWeak) != 0;
}

/// <summary>
/// Reads and edits the version-needed table (<c>.gnu.version_r</c>, <c>SHT_GNU_verneed</c>) of a
/// little-endian ELF64 shared object. Only what the TorchSharp load fix needs: listing entries and
/// setting <c>VER_FLG_WEAK</c> on one of them.
/// </summary>
/// <remarks>
/// Layout from the System V gABI and the LSB "Symbol Versioning" chapter: Elf64_Verneed is
/// {vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32} and Elf64_Vernaux is
/// {vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32}; names are offsets into
/// the string table named by the section's sh_link. glibc's loader skips a missing version whose
/// entry carries VER_FLG_WEAK (it prints a warning under LD_DEBUG) instead of refusing the load.
/// Anything else than a well-formed ELF64 LSB file is refused with an <see cref="InvalidDataException"/>
/// naming the file, so a surprise never turns into a corrupted library.
/// </remarks>
public static class ElfVersionNeeds
{
    /// <summary>VER_FLG_WEAK from &lt;elf.h&gt;.</summary>
    public const ushort VerFlagWeak = 0x2;

    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const uint ShtStrtab = 3;

    /// <summary>Lists every version-needed entry of the ELF file held in <paramref name="image"/>.</summary>
    /// <param name="image">The whole file's bytes.</param>
    /// <param name="fileName">Used only in error messages.</param>
    public static IReadOnlyList<ElfVersionNeed> Read(ReadOnlySpan<byte> image, string fileName)
    {
        var header = ReadHeader(image, fileName);
        var needs = new List<ElfVersionNeed>();
        var found = false;
        for (var index = 0; index < header.SectionCount; index++)
        {
            var section = ReadSection(image, header, index, fileName);
            if (section.Type != ShtGnuVerneed)
                continue;
            if (found)
                throw Bad(fileName, "has more than one SHT_GNU_verneed section");
            found = true;
            var strings = ReadSection(image, header, checked((int)section.Link), fileName);
            if (strings.Type != ShtStrtab)
                throw Bad(fileName, $"verneed section links to section {section.Link}, which is not a string table");
            ReadNeeds(image, section, strings, fileName, needs);
        }
        return needs;
    }

    /// <summary>
    /// Returns a copy of <paramref name="image"/> in which the entry requiring <paramref name="versionName"/>
    /// from <paramref name="libraryFile"/> carries <see cref="VerFlagWeak"/>; every other byte is unchanged.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not ELF64 LSB, is malformed, or has no such entry.</exception>
    public static byte[] MarkWeak(ReadOnlySpan<byte> image, string libraryFile, string versionName, string fileName)
    {
        var matches = Read(image, fileName).Where(n => n.File == libraryFile && n.Name == versionName).ToList();
        if (matches.Count != 1)
            throw Bad(fileName, $"has {matches.Count} version-needed entries for {versionName} from {libraryFile}; expected exactly one");
        var patched = image.ToArray();
        var flags = (ushort)(matches[0].Flags | VerFlagWeak);
        BinaryPrimitives.WriteUInt16LittleEndian(patched.AsSpan(checked((int)matches[0].FlagsOffset), 2), flags);
        return patched;
    }

    private readonly record struct Header(long SectionOffset, int SectionEntrySize, int SectionCount);

    private readonly record struct Section(uint Type, long Offset, long Size, uint Link, uint Info);

    private static Header ReadHeader(ReadOnlySpan<byte> image, string fileName)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
            throw Bad(fileName, "is not an ELF file (no \\x7fELF magic)");
        if (image[4] != 2)
            throw Bad(fileName, $"is ELF class {image[4]}; only ELF64 (class 2) is supported");
        if (image[5] != 1)
            throw Bad(fileName, $"has data encoding {image[5]}; only little-endian (1) is supported");
        var sectionOffset = checked((long)BinaryPrimitives.ReadUInt64LittleEndian(image[0x28..]));
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(image[0x3A..]);
        var count = BinaryPrimitives.ReadUInt16LittleEndian(image[0x3C..]);
        if (count == 0)
            throw Bad(fileName, "has no section headers");
        if (entrySize != 64)
            throw Bad(fileName, $"has section header size {entrySize}; ELF64 requires 64");
        if (sectionOffset <= 0 || sectionOffset + (long)count * entrySize > image.Length)
            throw Bad(fileName, "has a section header table outside the file (truncated?)");
        return new Header(sectionOffset, entrySize, count);
    }

    private static Section ReadSection(ReadOnlySpan<byte> image, Header header, int index, string fileName)
    {
        if (index < 0 || index >= header.SectionCount)
            throw Bad(fileName, $"refers to section {index}, but has {header.SectionCount}");
        var entry = image.Slice(checked((int)(header.SectionOffset + (long)index * header.SectionEntrySize)), header.SectionEntrySize);
        var section = new Section(
            Type: BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]),
            Offset: checked((long)BinaryPrimitives.ReadUInt64LittleEndian(entry[24..])),
            Size: checked((long)BinaryPrimitives.ReadUInt64LittleEndian(entry[32..])),
            Link: BinaryPrimitives.ReadUInt32LittleEndian(entry[40..]),
            Info: BinaryPrimitives.ReadUInt32LittleEndian(entry[44..]));
        if (section.Type != 8 /* SHT_NOBITS */ && (section.Offset < 0 || section.Offset + section.Size > image.Length))
            throw Bad(fileName, $"has section {index} outside the file (truncated?)");
        return section;
    }

    private static void ReadNeeds(ReadOnlySpan<byte> image, Section section, Section strings, string fileName, List<ElfVersionNeed> needs)
    {
        var entryCount = section.Info;   // sh_info = number of Elf64_Verneed entries
        long at = section.Offset;
        for (var i = 0; i < entryCount; i++)
        {
            RequireInside(section, at, 16, fileName);
            var verneed = image.Slice(checked((int)at), 16);
            var version = BinaryPrimitives.ReadUInt16LittleEndian(verneed);
            if (version != 1)
                throw Bad(fileName, $"has verneed entry {i} with vn_version {version}; only version 1 exists");
            var auxCount = BinaryPrimitives.ReadUInt16LittleEndian(verneed[2..]);
            var file = ReadString(image, strings, BinaryPrimitives.ReadUInt32LittleEndian(verneed[4..]), fileName);
            var auxOffset = BinaryPrimitives.ReadUInt32LittleEndian(verneed[8..]);
            var next = BinaryPrimitives.ReadUInt32LittleEndian(verneed[12..]);
            long auxAt = at + auxOffset;
            for (var j = 0; j < auxCount; j++)
            {
                RequireInside(section, auxAt, 16, fileName);
                var vernaux = image.Slice(checked((int)auxAt), 16);
                var flags = BinaryPrimitives.ReadUInt16LittleEndian(vernaux[4..]);
                var name = ReadString(image, strings, BinaryPrimitives.ReadUInt32LittleEndian(vernaux[8..]), fileName);
                needs.Add(new ElfVersionNeed(file, name, flags, auxAt + 4));
                var auxNext = BinaryPrimitives.ReadUInt32LittleEndian(vernaux[12..]);
                if (auxNext == 0 && j != auxCount - 1)
                    throw Bad(fileName, $"has verneed entry for {file} whose vernaux chain ends after {j + 1} of {auxCount}");
                auxAt += auxNext;
            }
            if (next == 0 && i != entryCount - 1)
                throw Bad(fileName, $"has a verneed chain that ends after {i + 1} of {entryCount} entries");
            at += next;
        }
    }

    private static void RequireInside(Section section, long at, int length, string fileName)
    {
        if (at < section.Offset || at + length > section.Offset + section.Size)
            throw Bad(fileName, "has a version-needed entry outside its .gnu.version_r section");
    }

    private static string ReadString(ReadOnlySpan<byte> image, Section strings, uint offset, string fileName)
    {
        if (offset >= strings.Size)
            throw Bad(fileName, $"has a string offset {offset} beyond its string table");
        var table = image.Slice(checked((int)strings.Offset), checked((int)strings.Size));
        var end = table[(int)offset..].IndexOf((byte)0);
        if (end < 0)
            throw Bad(fileName, "has an unterminated string in its string table");
        return Encoding.ASCII.GetString(table.Slice((int)offset, end));
    }

    private static InvalidDataException Bad(string fileName, string what) =>
        new($"ELF version patch: '{fileName}' {what}. Refusing to patch it.");
}
