// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>
/// Trains a <see cref="Seq2SeqTransformer"/> on a <see cref="SyntheticTranslation"/> task with the library's one loop (teacher forcing,
/// cross-entropy per target token). Validation reports the loss and the token accuracy of greedy next-token predictions under teacher
/// forcing, on seeded batches.
/// </summary>
public static class TranslationTrainer
{
    /// <summary>Trains <paramref name="model"/> on fresh seeded batches of <paramref name="task"/> (source → BOS + target, predicting target + EOS), <see cref="TrainingConfig.BatchSize"/> sequences per step; throughput counts BatchSize·(Length + 1) target tokens per step.</summary>
    /// <remarks>Runs on the device of the model's parameters; <paramref name="progress"/> hears every step, <paramref name="probes"/> are read every <see cref="TrainingConfig.ProbeEvery"/> steps, and <paramref name="name"/> labels the result.</remarks>
    /// <exception cref="ArgumentException">The task's Length + 1 tokens exceed the model's context.</exception>
    public static TrainingResult Train(string name, Seq2SeqTransformer model, SyntheticTranslation task, TrainingConfig config,
        Action<TrainingProgress>? progress = null, IReadOnlyList<TrainingProbe>? probes = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(config);
        if (task.Length + 1 > model.Config.Context)
            throw new ArgumentException($"Task sequences of {task.Length + 1} tokens exceed the model's context {model.Config.Context}.", nameof(task));
        var device = model.parameters().First().device;
        var micro = config.BatchSize / config.AccumulationSteps;
        var loop = new TrainingTask("translation",
            (generator, _) =>
            {
                var (source, input, target) = task.SampleBatch(micro, generator, device);
                return nn.functional.cross_entropy(model.forward(source, input).reshape(-1, task.VocabularySize), target.reshape(-1));
            },
            () => Evaluate(model, task, config, device),
            (double)config.BatchSize * (task.Length + 1), "tokens");
        var c = model.Config;
        return TrainingLoop.Run(name, model, null, $"Seq2SeqTransformer enc {c.EncoderDepth} dec {c.DecoderDepth} d={c.Width} {c.Norm} {(c.PostLN ? "Post-LN" : "Pre-LN")}",
            config, loop, probes, progress);
    }

    /// <summary>Seed of the validation batches: one fixed seed for every run, so runs with different training seeds or variants are
    /// scored on the same sentences and pair.</summary>
    public const long ValidationSeed = 1_000_003;

    /// <summary>Validation loss and token accuracy in evaluation mode on <see cref="TrainingConfig.EvaluationBatches"/> batches drawn
    /// with <see cref="ValidationSeed"/> (the same for every call, seed and variant).</summary>
    public static (double Loss, double? Accuracy) Evaluate(Seq2SeqTransformer model, SyntheticTranslation task, TrainingConfig config, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(config);
        return EvaluationMode.Run(model, () =>
        {
            var generator = new Generator((ulong)ValidationSeed);
            double loss = 0, correct = 0, count = 0;
            var batches = Math.Max(1, config.EvaluationBatches);
            for (var b = 0; b < batches; b++)
            {
                var (source, input, target) = task.SampleBatch(config.BatchSize, generator, device);
                var logits = model.forward(source, input);
                loss += nn.functional.cross_entropy(logits.reshape(-1, task.VocabularySize), target.reshape(-1)).ToDouble();
                correct += logits.argmax(-1).eq(target).sum().ToDouble();
                count += target.numel();
            }
            return (loss / batches, (double?)(correct / count));
        });
    }
}
