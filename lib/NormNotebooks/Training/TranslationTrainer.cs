// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>
/// Trains a <see cref="Seq2SeqTransformer"/> on a translation task (<see cref="ITranslationTask"/>: <see cref="SyntheticTranslation"/>, <see cref="CipherTranslation"/>) with the library's one loop (teacher forcing,
/// cross-entropy per target token). Validation reports the loss and the token accuracy of greedy next-token predictions under teacher
/// forcing, on the task's validation batches (the same for every run).
/// </summary>
public static class TranslationTrainer
{
    /// <summary>Trains <paramref name="model"/> on fresh seeded batches of <paramref name="task"/> (source → BOS + target, predicting target + EOS), <see cref="TrainingConfig.BatchSize"/> sequences per step; throughput counts BatchSize·(Length + 1) target tokens per step.</summary>
    /// <remarks>Runs on the device of the model's parameters; <paramref name="progress"/> hears every step, <paramref name="probes"/> are read every <see cref="TrainingConfig.ProbeEvery"/> steps, and <paramref name="name"/> labels the result.</remarks>
    /// <exception cref="ArgumentException">The task's Length + 1 tokens exceed the model's context.</exception>
    public static TrainingResult Train(string name, Seq2SeqTransformer model, ITranslationTask task, TrainingConfig config,
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

    /// <summary>Validation loss (mean cross-entropy per target token) and token accuracy in evaluation mode, over the task's
    /// validation batches (<see cref="ITranslationTask.ValidationBatches"/>: the same for every call, seed and variant).</summary>
    public static (double Loss, double? Accuracy) Evaluate(Seq2SeqTransformer model, ITranslationTask task, TrainingConfig config, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(config);
        return EvaluationMode.Run(model, () =>
        {
            double loss = 0, correct = 0, count = 0;
            foreach (var (source, input, target) in task.ValidationBatches(config.BatchSize, config.EvaluationBatches, device))
            {
                using var scope = NewDisposeScope();
                using var s = source;
                using var i = input;
                using var t = target;
                var logits = model.forward(source, input);
                loss += nn.functional.cross_entropy(logits.reshape(-1, task.VocabularySize), target.reshape(-1), reduction: nn.Reduction.Sum).ToDouble();
                correct += logits.argmax(-1).eq(target).sum().ToDouble();
                count += target.numel();
            }
            return (loss / count, (double?)(correct / count));
        });
    }
}
