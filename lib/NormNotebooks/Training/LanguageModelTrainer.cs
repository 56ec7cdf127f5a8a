// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>
/// Trains a character language model (a <see cref="CharTransformer"/>, a <see cref="CharGru"/>, or any module mapping tokens
/// [batch, time] to logits [batch, time, vocabulary]) on a <see cref="CharDataset"/> with the library's one loop (<see cref="TrainingConfig"/>:
/// optimizer, warm-up and decay, accumulation, clipping, divergence guard, probes). Validation runs in evaluation mode (running
/// statistics), so batch-statistics norms are measured without the causal leak of training-mode statistics.
/// </summary>
public static class LanguageModelTrainer
{
    /// <summary>Trains <paramref name="model"/>; <paramref name="progress"/> hears every step, <paramref name="probes"/> are read every
    /// <see cref="TrainingConfig.ProbeEvery"/> steps.</summary>
    public static TrainingResult Train(string name, nn.Module<Tensor, Tensor> model, CharDataset data, TrainingConfig config,
        Action<TrainingProgress>? progress = null, IReadOnlyList<TrainingProbe>? probes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(config);
        if (model is CharTransformer transformer && config.Context > transformer.Config.Context)
            throw new ArgumentException($"Training context {config.Context} exceeds the model's {transformer.Config.Context}.", nameof(config));
        var device = model.parameters().First().device;
        var micro = config.BatchSize / config.AccumulationSteps;
        var task = new TrainingTask("language-model",
            (generator, _) =>
            {
                var (x, y) = data.SampleBatch(data.Train, micro, config.Context, generator, device);
                return nn.functional.cross_entropy(model.forward(x).reshape(-1, data.VocabularySize), y.reshape(-1));
            },
            () => (Evaluate(model, data, config, device), null),
            (double)config.BatchSize * config.Context, "tokens");
        var description = model switch
        {
            CharTransformer m => $"CharTransformer L={m.Config.Depth} d={m.Config.Width} heads={m.Config.Heads} {m.Config.Norm} {m.Config.Placement}",
            _ => model.ToString() ?? model.GetName(),
        };
        return TrainingLoop.Run(name, model, (model as CharTransformer)?.Config, description, config, task, probes, progress);
    }

    /// <summary>Mean validation cross-entropy (nats per character) in evaluation mode over the fixed validation set
    /// <see cref="CharDataset.ValidationSet"/>(context, <see cref="TrainingConfig.ValidationCharacters"/>): the same targets for every
    /// seed and variant, so runs pair.</summary>
    public static double Evaluate(nn.Module<Tensor, Tensor> model, CharDataset data, TrainingConfig config, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(config);
        return Evaluate(model, data.ValidationSet(config.Context, config.ValidationCharacters), device);
    }

    /// <summary>Mean cross-entropy (nats per character) over the targets of <paramref name="windows"/>, in evaluation mode.</summary>
    public static double Evaluate(nn.Module<Tensor, Tensor> model, ValidationWindows windows, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(windows);
        device ??= model.parameters().First().device;
        const int chunk = 64;
        return EvaluationMode.Run(model, () =>
        {
            var total = 0.0;
            for (var first = 0; first < windows.Starts.Count; first += chunk)
            {
                using var scope = NewDisposeScope();
                var (x, y) = windows.Batch(first, Math.Min(chunk, windows.Starts.Count - first), device);
                var logits = model.forward(x);
                total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]), y.reshape(-1), reduction: nn.Reduction.Sum).ToDouble();
            }
            return total / windows.Characters;
        });
    }

    /// <summary>A fixed batch of validation tokens [batch, context] for probes (the same for every call with the same seed).</summary>
    public static Tensor ProbeBatch(CharDataset data, int batch, int context, long seed = 7, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (x, y) = data.SampleBatch(data.Validation, batch, context, new Generator((ulong)seed), device);
        y.Dispose();
        return x;
    }
}
