// SPDX-License-Identifier: MIT
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NormNotebooks.Runner;

// The notebook process that `normnb run` starts for each notebook: `NormNotebooks.Runner host`.
// Events go to the original stdout (a pipe to the runner); native code's stdout is sent to stderr, so
// nothing a library prints can corrupt the event stream.
if (args is not ["host"])
{
    Console.Error.WriteLine("NormNotebooks.Runner is started by `normnb run`; usage: NormNotebooks.Runner host < request.json");
    return 2;
}
var events = OperatingSystem.IsWindows()
    ? Console.Out
    : new StreamWriter(new FileStream(new SafeFileHandle(Posix.MoveStdoutAside(), ownsHandle: true), FileAccess.Write)) { AutoFlush = false };
// Environment.Exit, not a return: a foreground thread a cell started and never ended would otherwise keep the process, and
// `normnb run`, waiting after the last cell.
Environment.Exit(await NotebookHost.MainAsync(Console.In, events));
return 0;

internal static partial class Posix
{
    private const int FDupFdCloexec = 1030;   // F_DUPFD_CLOEXEC on Linux

    /// <summary>Duplicates fd 1 for the event stream (close-on-exec: a process a cell starts must not hold the event pipe open, or the
    /// runner would wait for its end after the notebook process exited) and points fd 1 at stderr; returns the duplicate.</summary>
    public static IntPtr MoveStdoutAside()
    {
        var events = fcntl(1, FDupFdCloexec, 3);
        if (events < 0 || dup2(2, 1) < 0)
            throw new IOException($"Could not redirect stdout (errno {Marshal.GetLastPInvokeError()}).");
        return events;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int dup2(int oldFd, int newFd);
}
