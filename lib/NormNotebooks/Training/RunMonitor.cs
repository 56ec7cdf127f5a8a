// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Globalization;

namespace NormNotebooks.Training;

/// <summary>
/// What every training loop of the library shares around its steps: the wall clock, the progress report after each step (throughput
/// and time left) and the divergence guard (a non-finite value stops the run with a reason naming it). <see cref="TrainingLoop"/>
/// and <see cref="GanTrainer"/> both run under one.
/// </summary>
/// <param name="name">The run's label in progress reports.</param>
/// <param name="steps">Steps planned.</param>
/// <param name="examplesPerStep">Tokens, images or samples per step, for the throughput.</param>
/// <param name="unit">What <paramref name="examplesPerStep"/> counts.</param>
/// <param name="progress">Hears every step; null for none.</param>
internal sealed class RunMonitor(string name, int steps, double examplesPerStep, string unit, Action<TrainingProgress>? progress)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Seconds since the run started.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;

    /// <summary>Examples per second over the first <paramref name="done"/> steps.</summary>
    public double Throughput(int done) => examplesPerStep * done / Seconds;

    /// <summary>Reports that <paramref name="done"/> steps are finished, the last at training loss <paramref name="loss"/>.</summary>
    public void StepDone(int done, double loss, double? validation)
    {
        if (progress is null)
            return;
        var elapsed = Seconds;
        progress(new TrainingProgress(done, steps, loss, validation, examplesPerStep * done / elapsed, unit,
            TimeSpan.FromSeconds(elapsed / done * (steps - done)), name));
    }

    /// <summary>The divergence reason at <paramref name="step"/> if any of <paramref name="values"/> is not finite, else null.</summary>
    public static string? NotFinite(int step, params ReadOnlySpan<(string Name, double Value)> values)
    {
        foreach (var (_, value) in values)
            if (!double.IsFinite(value))
            {
                var parts = new List<string>();
                foreach (var (n, v) in values)
                    parts.Add(string.Create(CultureInfo.InvariantCulture, $"{n} {v}"));
                return $"step {step}: {string.Join(", ", parts)} (not finite)";
            }
        return null;
    }
}
