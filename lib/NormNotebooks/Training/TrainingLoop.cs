// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>What a task gives the shared loop: its micro-batch loss, its evaluation, and how to describe its throughput.</summary>
/// <param name="Task">"language-model" or "classification".</param>
/// <param name="MicroBatchLoss">The mean loss of micro-batch <c>m</c> of the step, drawn with the run's batch generator.</param>
/// <param name="Evaluate">Validation (loss, accuracy or null) in evaluation mode.</param>
/// <param name="ExamplesPerStep">Tokens or images per optimizer step.</param>
/// <param name="Unit">"tokens" or "images".</param>
internal sealed record TrainingTask(string Task, Func<Generator, int, Tensor> MicroBatchLoss, Func<(double Loss, double? Accuracy)> Evaluate, double ExamplesPerStep, string Unit);

/// <summary>
/// The one training loop of the library: learning-rate schedule, gradient accumulation, probes read after the backward pass (so
/// gradients are the raw ones), global-norm clipping, the divergence guard, evaluation every N steps, progress reports, and a dispose
/// scope around every step. Same seed and thread count → the same loss curve on CPU.
/// </summary>
internal static class TrainingLoop
{
    public static TrainingResult Run(string name, nn.Module model, Models.TransformerConfig? modelConfig, string description, TrainingConfig config,
        TrainingTask task, IReadOnlyList<TrainingProbe>? probes, Action<TrainingProgress>? progress, Action? afterBackward = null)
    {
        config.Validate();
        using var optimizer = Optimizers.Create(model, config);
        var parameters = model.parameters().ToList();
        var batches = new Generator((ulong)config.Seed);
        var records = new List<StepRecord>();
        var series = new Dictionary<string, List<ProbeSample>>();
        var monitor = new RunMonitor(name, config.Steps, task.ExamplesPerStep, task.Unit, progress);
        double? firstLoss = null, lastValidation = null, lastAccuracy = null;
        string? divergence = null;
        model.train();
        for (var step = 0; step < config.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var rate = config.LearningRateAt(step);
            optimizer.ZeroGrad();
            var loss = 0.0;
            for (var m = 0; m < config.AccumulationSteps; m++)
            {
                var microLoss = task.MicroBatchLoss(batches, m) / config.AccumulationSteps;
                microLoss.backward();
                loss += microLoss.ToDouble();
            }
            afterBackward?.Invoke();
            if (config.ProbesAt(step) && probes is { Count: > 0 })
                Read(probes, new ProbeContext(model, step, rate), series);
            var gradientNorm = config.GradientClip > 0
                ? nn.utils.clip_grad_norm_(parameters, config.GradientClip)
                : GradientNorm(parameters);
            firstLoss ??= loss;
            divergence = RunMonitor.NotFinite(step, ("loss", loss), ("gradient norm", gradientNorm));
            if (divergence is null && loss > config.DivergenceFactor * firstLoss)
                divergence = $"step {step}: loss {loss:F3} exceeds {config.DivergenceFactor:g}× the first step's {firstLoss:F3}";
            if (divergence is null)
                optimizer.Step(rate);
            var evaluate = divergence is null && (step == config.Steps - 1 || (config.EvaluateEvery > 0 && (step + 1) % config.EvaluateEvery == 0));
            (double Loss, double? Accuracy)? validation = evaluate ? task.Evaluate() : null;
            if (validation is { } v)
                (lastValidation, lastAccuracy) = (v.Loss, v.Accuracy);
            records.Add(new StepRecord(step, loss, rate, gradientNorm, validation?.Loss, monitor.Seconds, validation?.Accuracy));
            monitor.StepDone(step + 1, loss, lastValidation);
            if (divergence is not null)
                break;
        }
        if (divergence is null && config.CollapseLoss is { } collapse && lastValidation >= collapse)
            divergence = $"collapse: final validation loss {lastValidation:F3} is at or above {collapse:F3} (the unigram loss)";
        return new TrainingResult(name, task.Task, modelConfig, description, config, records, divergence is not null, divergence, lastValidation,
            lastAccuracy, monitor.Seconds, monitor.Throughput(records.Count), task.Unit, parameters.Sum(p => p.numel()),
            series.ToDictionary(s => s.Key, s => (IReadOnlyList<ProbeSample>)s.Value));
    }

    private static void Read(IReadOnlyList<TrainingProbe> probes, ProbeContext context, Dictionary<string, List<ProbeSample>> series)
    {
        foreach (var probe in probes)
            foreach (var (key, values) in probe.Read(context))
            {
                if (!series.TryGetValue(key, out var list))
                    series[key] = list = [];
                list.Add(new ProbeSample(context.Step, values));
            }
    }

    internal static double GradientNorm(IEnumerable<Parameter> parameters)
    {
        using var scope = NewDisposeScope();
        var squares = parameters.Where(p => p.grad is not null).Select(p => p.grad!.square().sum()).ToList();
        return squares.Count == 0 ? 0 : stack(squares).sum().sqrt().ToDouble();
    }
}

/// <summary>Runs a measurement in evaluation mode (running statistics, no dropout) and without gradients, then restores the mode.</summary>
internal static class EvaluationMode
{
    public static T Run<T>(nn.Module model, Func<T> measure)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var wasTraining = model.training;
        model.eval();
        try
        {
            return measure();
        }
        finally
        {
            if (wasTraining)
                model.train();
        }
    }
}
