// SPDX-License-Identifier: MIT
using System.Diagnostics;

namespace NormNotebooks.Tests.Support;

/// <summary>Validates notebooks with Jupyter's own nbformat (Debian python3-nbformat), an independent reference.</summary>
internal static class NbformatValidator
{
    public static (int ExitCode, string Output) Validate(params string[] paths)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sys, nbformat\nfor p in sys.argv[1:]:\n    nbformat.validate(nbformat.read(p, as_version=nbformat.NO_CONVERT))\nprint('valid')");
        foreach (var path in paths)
            start.ArgumentList.Add(path);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }
}
