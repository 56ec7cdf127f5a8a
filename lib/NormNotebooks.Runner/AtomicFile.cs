// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;

namespace NormNotebooks.Runner;

/// <summary>
/// Writes files the way an editor saves them: through symlinks to their target, atomically (a temporary file in the
/// target's folder, then a rename, so a reader sees the old file or the new one, never half of one), keeping the
/// target's permissions, and only if the target still holds what the caller read.
/// </summary>
internal static partial class AtomicFile
{
    private const UnixFileMode AnyWrite = UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>
    /// Writes <paramref name="bytes"/> to <paramref name="path"/> (to its final target when it is a symlink), creating its
    /// folder. With <paramref name="expected"/>, writes only if the file still holds exactly those bytes, checked after the
    /// temporary file is written so that the window for a lost edit is the rename alone; returns false when it did not.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be written (full, read-only file system, …).</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to write in the folder.</exception>
    public static bool Write(string path, byte[] bytes, byte[]? expected = null)
    {
        var target = RealPath(path);
        var folder = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(folder);
        var temp = Path.Combine(folder, $".{Path.GetFileName(target)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows() && File.Exists(target))
                File.SetUnixFileMode(temp, File.GetUnixFileMode(target));
            if (expected is not null && !Holds(target, expected))
                return false;
            File.Move(temp, target, overwrite: true);
            return true;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Why <paramref name="path"/> (a file or folder; the nearest existing folder above it when it does not exist)
    /// must not be written — "mode 0444" when no one may write it, "permission denied" when this process may not — or null.</summary>
    /// <remarks>A mode without write bits is honoured even by root, who could write anyway: it says what the owner wants.</remarks>
    public static string? ReadOnlyReason(string path)
    {
        var existing = RealPath(path);
        while (!Path.Exists(existing))
            existing = Path.GetDirectoryName(existing) ?? existing;
        if (OperatingSystem.IsWindows())
            return File.Exists(existing) && File.GetAttributes(existing).HasFlag(FileAttributes.ReadOnly) ? "read-only attribute" : null;
        var mode = File.GetUnixFileMode(existing);
        if ((mode & AnyWrite) == 0)
            return "mode " + Convert.ToString((int)mode, 8).PadLeft(4, '0');
        if (File.Exists(existing))
        {
            try
            {
                using var handle = File.OpenHandle(existing, FileMode.Open, FileAccess.Write);   // opening writes nothing
            }
            catch (UnauthorizedAccessException)
            {
                return "permission denied";
            }
        }
        return null;
    }

    /// <summary><paramref name="path"/> with every symlink in it resolved (the file itself may not exist yet; its folder is resolved).</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        if (OperatingSystem.IsWindows())
            return File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        if (Resolve(full) is { } resolved)
            return resolved;
        var folder = Path.GetDirectoryName(full);
        return folder is null || folder == full ? full : Path.Combine(RealPath(folder), Path.GetFileName(full));
    }

    private static bool Holds(string path, byte[] expected)
    {
        try
        {
            return File.ReadAllBytes(path).AsSpan().SequenceEqual(expected);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static unsafe string? Resolve(string path)
    {
        var resolved = realpath(path, IntPtr.Zero);
        if (resolved == IntPtr.Zero)
            return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            NativeMemory.Free((void*)resolved);
        }
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr realpath(string path, IntPtr resolved);
}
