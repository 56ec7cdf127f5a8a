// SPDX-License-Identifier: MIT
using NormNotebooks.Runtime;

namespace NormNotebooks.Tests.Runtime;

public sealed class ElfVersionNeedsTests
{
    private const string StdCxx = "libstdc++.so.6";
    private const string Glibcxx332 = "GLIBCXX_3.4.32";

    private static (string Path, byte[] Bytes) RealLibrary()
    {
        var path = NativeSearch.FindLibTorchSharp();
        Assert.NotNull(path);
        return (path, File.ReadAllBytes(path));
    }

    [Fact]
    public void Read_ListsTheLibStdCxxNeeds_OfTheRealLibrary()
    {
        var (path, bytes) = RealLibrary();
        var needs = ElfVersionNeeds.Read(bytes, path);
        var stdcxx = needs.Where(n => n.File == StdCxx).ToList();
        Assert.Contains(stdcxx, n => n.Name == Glibcxx332 && !n.IsWeak);
        Assert.Contains(needs, n => n.File == "libc.so.6" && n.Name == "GLIBC_2.2.5");
        Assert.All(needs, n => Assert.False(n.IsWeak));
    }

    [Fact]
    public void MarkWeak_ChangesExactlyOneEntry_AndNoOtherByte()
    {
        var (path, original) = RealLibrary();
        var patched = ElfVersionNeeds.MarkWeak(original, StdCxx, Glibcxx332, path);

        Assert.Equal(original.Length, patched.Length);
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        var target = ElfVersionNeeds.Read(original, path).Single(n => n.File == StdCxx && n.Name == Glibcxx332);
        Assert.Equal([(int)target.FlagsOffset], changed);   // vna_flags is little-endian: 0x0000 → 0x0002 touches one byte

        var before = ElfVersionNeeds.Read(original, path);
        var after = ElfVersionNeeds.Read(patched, path);
        Assert.Equal(before.Count, after.Count);
        for (var i = 0; i < before.Count; i++)
        {
            var isTarget = before[i].File == StdCxx && before[i].Name == Glibcxx332;
            Assert.Equal(isTarget ? (ushort)(before[i].Flags | ElfVersionNeeds.VerFlagWeak) : before[i].Flags, after[i].Flags);
        }
    }

    [Fact]
    public void MarkWeak_RejectsANonElfFile_NamingIt()
    {
        var error = Assert.Throws<InvalidDataException>(() =>
            ElfVersionNeeds.MarkWeak("#!/bin/sh\necho this is a script, not a shared object\n"u8.ToArray(), StdCxx, Glibcxx332, "/tmp/script.sh"));
        Assert.Contains("/tmp/script.sh", error.Message);
        Assert.Contains("not an ELF file", error.Message);
    }

    [Fact]
    public void Read_RejectsATruncatedLibrary()
    {
        var (path, bytes) = RealLibrary();
        var error = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(bytes.AsSpan(0, 4096), path));
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void Read_RejectsElf32AndBigEndian()
    {
        var (path, bytes) = RealLibrary();
        var elf32 = bytes[..64];
        elf32[4] = 1;
        Assert.Contains("ELF64", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(elf32, path)).Message);
        var bigEndian = bytes[..64];
        bigEndian[5] = 2;
        Assert.Contains("little-endian", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.Read(bigEndian, path)).Message);
    }

    [Fact]
    public void MarkWeak_RefusesAVersionTheLibraryDoesNotNeed()
    {
        var (path, bytes) = RealLibrary();
        var error = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(bytes, StdCxx, "GLIBCXX_9.9.9", path));
        Assert.Contains("0 version-needed entries", error.Message);
    }
}
