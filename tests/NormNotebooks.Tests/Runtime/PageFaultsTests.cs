// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using NormNotebooks.Runtime;

namespace NormNotebooks.Tests.Runtime;

/// <summary>The calling thread's page faults: touching fresh anonymous memory is counted.</summary>
public sealed class PageFaultsTests
{
    [DllImport("libc", EntryPoint = "mmap")]
    private static extern nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Munmap(nint address, nuint length);

    [Fact]
    public void TouchingFreshMemory_IsCounted()
    {
        Assert.Equal(OperatingSystem.IsLinux(), PageFaults.Available);
        if (!PageFaults.Available)
            return;
        const int bytes = 16 << 20;
        var memory = Mmap(0, bytes, 0x1 | 0x2, 0x02 | 0x20, -1, 0);     // PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS
        Assert.NotEqual(-1, memory);
        try
        {
            var before = PageFaults.ThisThread();
            for (var offset = 0; offset < bytes; offset += 4096)
                Marshal.WriteByte(memory, offset, 1);
            var touched = PageFaults.ThisThread() - before;
            // One fault per 4 KiB page, or per 2 MiB where transparent huge pages back the mapping: at least 8.
            Assert.InRange(touched, bytes / (2 << 20), bytes / 4096 + 64);
            before = PageFaults.ThisThread();
            for (var offset = 0; offset < bytes; offset += 4096)
                Marshal.WriteByte(memory, offset, 2);
            Assert.InRange(PageFaults.ThisThread() - before, 0, 64);          // touched again: mapped already
        }
        finally
        {
            Assert.Equal(0, Munmap(memory, bytes));
        }
    }
}
