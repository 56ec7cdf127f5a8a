// SPDX-License-Identifier: MIT
using System.Diagnostics;

namespace NormNotebooks.Runtime;

/// <summary>What an external program did: its exit code (−1 when it was killed), both streams in full, and whether it ran out of time.</summary>
/// <param name="ExitCode">The program's exit code, or −1 when it timed out and was killed.</param>
/// <param name="Stdout">Everything it wrote to standard output.</param>
/// <param name="Stderr">Everything it wrote to standard error.</param>
/// <param name="TimedOut">It was still running at the timeout and was killed with its children.</param>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>Exit code 0 within the time allowed.</summary>
    public bool Succeeded => ExitCode == 0 && !TimedOut;
}

/// <summary>
/// Runs an external program the one way the library, the CLI and the tests do: arguments as a list (a path with spaces or quotes
/// reaches the program as one argument; nothing goes through a shell), standard input written and then closed (a program that asks
/// for a prompt sees end of file instead of waiting forever), both output streams drained concurrently (a chatty program cannot
/// fill a pipe and block), and a timeout after which the program and its children are killed.
/// </summary>
public static class ExternalProcess
{
    /// <summary>Runs <paramref name="program"/> (found on PATH when not a path) with <paramref name="arguments"/> to completion or
    /// until <paramref name="timeout"/>.</summary>
    /// <param name="program">The program to run.</param>
    /// <param name="arguments">Its arguments, one element each.</param>
    /// <param name="timeout">How long it may run.</param>
    /// <param name="standardInput">Text written to its standard input before it is closed; null closes it at once.</param>
    /// <param name="workingDirectory">Its working directory; the current one when null.</param>
    /// <param name="environment">Variables set for it on top of this process's environment.</param>
    /// <exception cref="System.ComponentModel.Win32Exception">The program does not exist or cannot be started.</exception>
    public static ProcessResult Run(string program, IEnumerable<string> arguments, TimeSpan timeout, string? standardInput = null,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Directory.GetCurrentDirectory(),
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (standardInput is not null)
                process.StandardInput.Write(standardInput);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program exited without reading its input; its exit code and output say why.
        }
        var finished = process.WaitForExit(timeout);
        if (!finished)
            process.Kill(entireProcessTree: true);
        process.WaitForExit();   // the streams are complete once the process (or its killed tree) is gone
        return new ProcessResult(finished ? process.ExitCode : -1, stdout.Result, stderr.Result, !finished);
    }

    /// <summary>Whether <paramref name="program"/> is an executable file in a folder of PATH.</summary>
    public static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}
