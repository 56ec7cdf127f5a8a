// SPDX-License-Identifier: MIT
namespace NormNotebooks.Training;

/// <summary>
/// Renders <see cref="TrainingProgress"/> reports on a console: on a terminal one line rewritten in place (carriage return), otherwise
/// (CI logs, files) a new line at every <c>percentStep</c>% of the run and at its end, so long loops never run silent and logs stay short.
/// </summary>
public static class ConsoleProgress
{
    /// <summary>A progress callback writing to <paramref name="writer"/> (the console by default).</summary>
    public static Action<TrainingProgress> Create(TextWriter? writer = null, bool? inPlace = null, int percentStep = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(percentStep);
        var output = writer ?? Console.Out;
        var rewrite = inPlace ?? (writer is null && !Console.IsOutputRedirected);
        var lastPercent = -1;
        return p =>
        {
            var done = p.Step >= p.Steps;
            if (rewrite)
            {
                output.Write("\r" + p.ToString().PadRight(100));
                if (done)
                    output.WriteLine();
                return;
            }
            var percent = (int)(100L * p.Step / Math.Max(1, p.Steps)) / percentStep * percentStep;
            if (percent > lastPercent || done)
            {
                lastPercent = percent;
                output.WriteLine(p.ToString());
            }
        };
    }
}
