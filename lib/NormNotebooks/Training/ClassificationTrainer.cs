// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>A labelled image set held as tensors: images [N, C, H, W] (or [N, features]) and int64 labels [N].</summary>
public sealed record LabelledTensors(Tensor Images, Tensor Labels)
{
    /// <summary>Number of examples.</summary>
    public long Count => Labels.shape[0];
}

/// <summary>
/// Trains an image classifier with the library's one loop (<see cref="TrainingConfig"/>; <see cref="TrainingConfig.Context"/> is unused).
/// Batches are drawn without replacement from a fresh seeded permutation every epoch; validation runs in evaluation mode over
/// <see cref="TrainingConfig.EvaluationBatches"/> batches of the test split, or all of it when that is 0.
/// </summary>
public static class ClassificationTrainer
{
    /// <summary>Optimizer steps in <paramref name="epochs"/> passes over <paramref name="examples"/> examples at <paramref name="batchSize"/>.</summary>
    public static int StepsFor(double epochs, long examples, int batchSize) => (int)Math.Ceiling(epochs * examples / batchSize);

    /// <summary>Trains <paramref name="model"/> on <paramref name="train"/>, validating on <paramref name="test"/>.</summary>
    /// <param name="name">The run's name.</param>
    /// <param name="model">The classifier; trained in place.</param>
    /// <param name="train">Training images and labels.</param>
    /// <param name="test">Validation images and labels.</param>
    /// <param name="config">Steps, batch, optimizer and schedule.</param>
    /// <param name="progress">Hears every step's progress.</param>
    /// <param name="probes">Read at <see cref="TrainingConfig.ProbeEvery"/> steps.</param>
    /// <param name="afterBackward">Runs after every backward pass, before clipping and the optimizer step: where gradients are edited
    /// (<see cref="ParameterSelection.RandomEntries"/> zeroes those of the entries it leaves frozen).</param>
    public static TrainingResult Train(string name, nn.Module<Tensor, Tensor> model, LabelledTensors train, LabelledTensors test, TrainingConfig config,
        Action<TrainingProgress>? progress = null, IReadOnlyList<TrainingProbe>? probes = null, Action? afterBackward = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(config);
        var micro = config.BatchSize / config.AccumulationSteps;
        if (micro > train.Count)
            throw new ArgumentException($"Micro-batch {micro} exceeds the {train.Count} training examples.", nameof(config));
        Tensor? order = null;
        long position = 0;
        var task = new TrainingTask("classification",
            (generator, _) =>
            {
                if (order is null || position + micro > train.Count)
                {
                    order?.Dispose();
                    order = randperm(train.Count, generator: generator).to(train.Images.device).DetachFromDisposeScope();
                    position = 0;
                }
                var index = order.narrow(0, position, micro);
                position += micro;
                return nn.functional.cross_entropy(model.forward(train.Images.index_select(0, index)), train.Labels.index_select(0, index));
            },
            () => Evaluate(model, test, config.EvaluationBatches == 0 ? null : config.EvaluationBatches * config.BatchSize),
            config.BatchSize, "images");
        try
        {
            return TrainingLoop.Run(name, model, null, model.GetType().Name, config, task, probes, progress, afterBackward);
        }
        finally
        {
            order?.Dispose();
        }
    }

    /// <summary>Mean cross-entropy and accuracy in evaluation mode over the first <paramref name="count"/> examples (all when null).</summary>
    public static (double Loss, double? Accuracy) Evaluate(nn.Module<Tensor, Tensor> model, LabelledTensors data, long? count = null, int chunk = 1000)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        return EvaluationMode.Run(model, () =>
        {
            var n = Math.Min(count ?? data.Count, data.Count);
            double loss = 0, correct = 0;
            for (long start = 0; start < n; start += chunk)
            {
                var length = Math.Min(chunk, n - start);
                var logits = model.forward(data.Images.narrow(0, start, length));
                var labels = data.Labels.narrow(0, start, length);
                loss += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).ToDouble();
                correct += logits.argmax(1).eq(labels).sum().ToDouble();
            }
            return (loss / n, (double?)(correct / n));
        });
    }
}
