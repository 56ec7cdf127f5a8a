// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NormNotebooks.Models;

namespace NormNotebooks.Training;

/// <summary>One optimizer step's record.</summary>
/// <param name="Step">0-based step.</param>
/// <param name="Loss">Training loss of the step (mean over its micro-batches).</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="GradientNorm">Global gradient norm before clipping.</param>
/// <param name="ValidationLoss">Validation loss when evaluated at this step.</param>
/// <param name="Seconds">Wall time since the start of the run.</param>
/// <param name="ValidationAccuracy">Classification only: validation accuracy when evaluated at this step.</param>
public sealed record StepRecord(int Step, double Loss, double LearningRate, double GradientNorm, double? ValidationLoss, double Seconds, double? ValidationAccuracy = null);

/// <summary>A progress report, for an updating notebook display or a console line.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="Steps">Steps in the run.</param>
/// <param name="Loss">The last step's training loss.</param>
/// <param name="ValidationLoss">The latest validation loss, if any.</param>
/// <param name="Throughput">Examples processed per second so far (tokens or images).</param>
/// <param name="Unit">What <paramref name="Throughput"/> counts ("tokens", "images").</param>
/// <param name="Eta">Estimated time to the end.</param>
/// <param name="Name">The run's name.</param>
public sealed record TrainingProgress(int Step, int Steps, double Loss, double? ValidationLoss, double Throughput, string Unit, TimeSpan Eta, string Name = "")
{
    /// <summary>One line: name, a bar, step, loss, validation, throughput and ETA.</summary>
    public override string ToString()
    {
        const int width = 20;
        var filled = (int)Math.Round(width * (double)Step / Math.Max(1, Steps));
        var line = new StringBuilder();
        if (Name.Length > 0)
            line.Append(Name).Append(' ');
        line.Append('[').Append('#', filled).Append('.', width - filled).Append("] ")
            .Append(CultureInfo.InvariantCulture, $"step {Step}/{Steps}  loss {Loss:F3}");
        if (ValidationLoss is { } validation)
            line.Append(CultureInfo.InvariantCulture, $"  val {validation:F3}");
        line.Append(CultureInfo.InvariantCulture, $"  {Throughput:N0} {Unit}/s  ETA {Eta:m\\:ss}");
        return line.ToString();
    }
}

/// <summary>A probe reading at one step: one value per layer (or per norm, head…).</summary>
public sealed record ProbeSample(int Step, double[] Values);

/// <summary>The typed record of a run: its configuration, per-step metrics, probe series and outcome. Serialisable to JSON.</summary>
/// <param name="Name">The run's name.</param>
/// <param name="Task">"language-model" or "classification".</param>
/// <param name="Model">The Transformer's configuration (language models), else null.</param>
/// <param name="ModelDescription">What was trained, in words.</param>
/// <param name="Training">The training configuration.</param>
/// <param name="Steps">Per-step records.</param>
/// <param name="Diverged">Whether the run failed: the divergence guard stopped it, or it ended collapsed at or above
/// <see cref="TrainingConfig.CollapseLoss"/> (the reason says which).</param>
/// <param name="DivergenceReason">Why it stopped, if it did.</param>
/// <param name="FinalValidationLoss">The last validation loss.</param>
/// <param name="FinalValidationAccuracy">Classification only: the last validation accuracy.</param>
/// <param name="WallSeconds">Wall time of the whole run, evaluations and probes included.</param>
/// <param name="Throughput">Examples per second over the run (tokens or images).</param>
/// <param name="ThroughputUnit">"tokens" or "images".</param>
/// <param name="Parameters">Trainable parameters.</param>
/// <param name="Probes">Probe series by name.</param>
public sealed record TrainingResult(
    string Name, string Task, TransformerConfig? Model, string ModelDescription, TrainingConfig Training, IReadOnlyList<StepRecord> Steps,
    bool Diverged, string? DivergenceReason, double? FinalValidationLoss, double? FinalValidationAccuracy, double WallSeconds,
    double Throughput, string ThroughputUnit, long Parameters, IReadOnlyDictionary<string, IReadOnlyList<ProbeSample>> Probes)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,   // a diverged run's NaN loss survives the round trip
    };

    /// <summary>The last step's training loss.</summary>
    public double FinalLoss => Steps.Count == 0 ? double.NaN : Steps[^1].Loss;

    /// <summary>The run as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a run saved with <see cref="ToJson"/>.</summary>
    public static TrainingResult FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingResult>(json, Json) ?? throw new JsonException("Empty training result.");

    /// <summary>A probe series by name.</summary>
    /// <exception cref="KeyNotFoundException">The run recorded no such probe (the message lists those it has).</exception>
    public IReadOnlyList<ProbeSample> Probe(string name) => Probes.TryGetValue(name, out var series)
        ? series
        : throw new KeyNotFoundException($"Run '{Name}' has no probe '{name}'; it has: {string.Join(", ", Probes.Keys)}.");
}
