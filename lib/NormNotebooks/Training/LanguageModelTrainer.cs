// SPDX-License-Identifier: MIT
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using NormNotebooks.Data;
using NormNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>Shape of the learning rate after warm-up.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant at the peak.</summary>
    Constant,

    /// <summary>Linear decay to zero at the last step.</summary>
    Linear,

    /// <summary>Cosine decay to zero at the last step.</summary>
    Cosine,
}

/// <summary>Every knob of a training run.</summary>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="BatchSize">Sequences per optimizer step (split into <paramref name="AccumulationSteps"/> micro-batches).</param>
/// <param name="Context">Characters per sequence.</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="WeightDecay">Decoupled (AdamW) weight decay, applied to matrices only (weights with ≥ 2 dimensions).</param>
/// <param name="Beta1">AdamW β₁.</param>
/// <param name="Beta2">AdamW β₂.</param>
/// <param name="WarmupSteps">Linear warm-up from 0 to the peak.</param>
/// <param name="Schedule">Decay after warm-up.</param>
/// <param name="GradientClip">Global gradient-norm clip (0: off).</param>
/// <param name="AccumulationSteps">Micro-batches per optimizer step (emulates micro-batch training; batch statistics see BatchSize/AccumulationSteps).</param>
/// <param name="EvaluateEvery">Validation every N steps (and at the end); 0: only at the end.</param>
/// <param name="EvaluationBatches">Validation batches per evaluation (fixed, seeded).</param>
/// <param name="Seed">Seed for initialisation order, batches and dropout.</param>
/// <param name="DivergenceFactor">Stop when the loss exceeds this multiple of the first step's loss (or is NaN/∞).</param>
public sealed record TrainingConfig(
    int Steps, int BatchSize = 16, int Context = 128, double LearningRate = 3e-3, double WeightDecay = 0.1, double Beta1 = 0.9,
    double Beta2 = 0.95, int WarmupSteps = 0, LearningRateSchedule Schedule = LearningRateSchedule.Cosine, double GradientClip = 1.0,
    int AccumulationSteps = 1, int EvaluateEvery = 0, int EvaluationBatches = 4, long Seed = 0, double DivergenceFactor = 4.0)
{
    /// <summary>The learning rate at (0-based) <paramref name="step"/>.</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps)
            return LearningRate * (step + 1) / WarmupSteps;
        var progress = Steps <= WarmupSteps ? 1.0 : (double)(step - WarmupSteps) / (Steps - WarmupSteps);
        return Schedule switch
        {
            LearningRateSchedule.Constant => LearningRate,
            LearningRateSchedule.Linear => LearningRate * (1 - progress),
            _ => LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress)),
        };
    }
}

/// <summary>One optimizer step's record.</summary>
public sealed record StepRecord(int Step, double Loss, double LearningRate, double GradientNorm, double? ValidationLoss, double Seconds);

/// <summary>A progress report for a display or console bar.</summary>
public sealed record TrainingProgress(int Step, int Steps, double Loss, double? ValidationLoss, double TokensPerSecond, TimeSpan Eta);

/// <summary>The typed record of a run: its configuration, per-step metrics and outcome. Serialisable to JSON.</summary>
public sealed record TrainingResult(
    string Name, TransformerConfig Model, TrainingConfig Training, IReadOnlyList<StepRecord> Steps, bool Diverged, string? DivergenceReason,
    double? FinalValidationLoss, double WallSeconds, double TokensPerSecond, long Parameters)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>The run as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a run saved with <see cref="ToJson"/>.</summary>
    public static TrainingResult FromJson(string json) =>
        JsonSerializer.Deserialize<TrainingResult>(json, Json) ?? throw new JsonException("Empty training result.");
}

/// <summary>
/// Trains a <see cref="CharTransformer"/> on a <see cref="CharDataset"/>: AdamW with decoupled weight decay on matrices, linear warm-up
/// then constant/linear/cosine decay, gradient accumulation, global-norm clipping, validation in evaluation mode (running statistics,
/// so batch-statistics norms are measured without the causal leak of training-mode statistics), and a divergence guard that stops
/// and records instead of crashing. Each step runs inside a dispose scope. Same seed and thread count → the same loss curve on CPU.
/// </summary>
public static class LanguageModelTrainer
{
    /// <summary>Runs the configuration; <paramref name="progress"/> is called every step with step, loss, throughput and ETA.</summary>
    public static TrainingResult Train(string name, CharTransformer model, CharDataset data, TrainingConfig config, Action<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(config.Steps);
        if (config.BatchSize % config.AccumulationSteps != 0)
            throw new ArgumentException($"BatchSize ({config.BatchSize}) must be a multiple of AccumulationSteps ({config.AccumulationSteps}).", nameof(config));
        if (config.Context > model.Config.Context)
            throw new ArgumentException($"Training context {config.Context} exceeds the model's {model.Config.Context}.", nameof(config));
        var device = model.parameters().First().device;
        var decayed = model.parameters().Where(p => p.dim() >= 2).ToList();
        var undecayed = model.parameters().Where(p => p.dim() < 2).ToList();
        var optimizer = optim.AdamW(
            [
                new TorchSharp.Modules.AdamW.ParamGroup(decayed, config.LearningRate, config.Beta1, config.Beta2, 1e-8, config.WeightDecay, false, false),
                new TorchSharp.Modules.AdamW.ParamGroup(undecayed, config.LearningRate, config.Beta1, config.Beta2, 1e-8, 0, false, false),
            ], config.LearningRate, config.Beta1, config.Beta2, 1e-8, config.WeightDecay, false, false);
        var batches = new Generator((ulong)config.Seed);
        var micro = config.BatchSize / config.AccumulationSteps;
        var tokensPerStep = (double)config.BatchSize * config.Context;
        var records = new List<StepRecord>();
        var clock = Stopwatch.StartNew();
        double? firstLoss = null;
        string? divergence = null;
        double? lastValidation = null;
        model.train();
        for (var step = 0; step < config.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var rate = config.LearningRateAt(step);
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = rate;
            optimizer.zero_grad();
            var loss = 0.0;
            for (var m = 0; m < config.AccumulationSteps; m++)
            {
                var (x, y) = data.SampleBatch(data.Train, micro, config.Context, batches, device);
                var microLoss = nn.functional.cross_entropy(model.forward(x).reshape(-1, data.VocabularySize), y.reshape(-1)) / config.AccumulationSteps;
                microLoss.backward();
                loss += microLoss.item<float>();
            }
            var gradientNorm = config.GradientClip > 0
                ? nn.utils.clip_grad_norm_(model.parameters(), config.GradientClip)
                : GradientNorm(model);
            firstLoss ??= loss;
            if (!double.IsFinite(loss) || !double.IsFinite(gradientNorm))
                divergence = $"step {step}: loss {loss}, gradient norm {gradientNorm} (not finite)";
            else if (loss > config.DivergenceFactor * firstLoss)
                divergence = $"step {step}: loss {loss:F3} exceeds {config.DivergenceFactor:g}× the first step's {firstLoss:F3}";
            if (divergence is null)
                optimizer.step();
            var evaluate = divergence is null && (step == config.Steps - 1 || (config.EvaluateEvery > 0 && (step + 1) % config.EvaluateEvery == 0));
            double? validation = evaluate ? Evaluate(model, data, config, device) : null;
            lastValidation = validation ?? lastValidation;
            records.Add(new StepRecord(step, loss, rate, gradientNorm, validation, clock.Elapsed.TotalSeconds));
            if (progress is not null)
            {
                var done = step + 1;
                var perStep = clock.Elapsed.TotalSeconds / done;
                progress(new TrainingProgress(done, config.Steps, loss, lastValidation, tokensPerStep * done / clock.Elapsed.TotalSeconds,
                    TimeSpan.FromSeconds(perStep * (config.Steps - done))));
            }
            if (divergence is not null)
                break;
        }
        var seconds = clock.Elapsed.TotalSeconds;
        return new TrainingResult(name, model.Config, config, records, divergence is not null, divergence, lastValidation, seconds,
            tokensPerStep * records.Count / seconds, model.parameters().Sum(p => p.numel()));
    }

    /// <summary>Mean validation cross-entropy (nats per character) in evaluation mode over seeded batches.</summary>
    public static double Evaluate(CharTransformer model, CharDataset data, TrainingConfig config, Device? device = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var wasTraining = model.training;
        model.eval();
        var generator = new Generator((ulong)(config.Seed + 1_000_003));
        var total = 0.0;
        for (var b = 0; b < config.EvaluationBatches; b++)
        {
            var (x, y) = data.SampleBatch(data.Validation, config.BatchSize, config.Context, generator, device);
            total += nn.functional.cross_entropy(model.forward(x).reshape(-1, data.VocabularySize), y.reshape(-1)).item<float>();
        }
        if (wasTraining)
            model.train();
        return total / config.EvaluationBatches;
    }

    private static double GradientNorm(CharTransformer model)
    {
        using var scope = NewDisposeScope();
        var squares = model.parameters().Where(p => p.grad is not null).Select(p => p.grad!.square().sum()).ToList();
        return squares.Count == 0 ? 0 : stack(squares).sum().sqrt().ToDouble();
    }
}
