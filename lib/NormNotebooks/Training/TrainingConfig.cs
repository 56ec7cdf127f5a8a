// SPDX-License-Identifier: MIT
namespace NormNotebooks.Training;

/// <summary>Shape of the learning rate after warm-up.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant at the peak.</summary>
    Constant,

    /// <summary>Linear decay to <see cref="TrainingConfig.MinLearningRate"/> (default 0), reached at step Steps, just after the last one.</summary>
    Linear,

    /// <summary>Cosine decay to <see cref="TrainingConfig.MinLearningRate"/> (default 0), reached at step Steps, just after the last one.</summary>
    Cosine,
}

/// <summary>The optimizer a run uses (see <see cref="Optimizers"/>).</summary>
public enum OptimizerKind
{
    /// <summary>Adam with decoupled weight decay (Loshchilov &amp; Hutter 2019).</summary>
    AdamW,

    /// <summary>SGD with heavy-ball momentum β₁ and L2 weight decay.</summary>
    Sgd,

    /// <summary>SGD with the radial component of scale-invariant weights' updates projected out (Heo et al. 2021).</summary>
    SgdP,

    /// <summary>AdamW with the same projection (Heo et al. 2021).</summary>
    AdamP,

    /// <summary>SGD with momentum and a layer-wise trust ratio η‖w‖/(‖g‖ + λ‖w‖) (You, Gitman &amp; Ginsburg 2017).</summary>
    Lars,

    /// <summary>Adam with decoupled weight decay and a layer-wise trust ratio ‖w‖/‖update‖ (You et al. 2020).</summary>
    Lamb,
}

/// <summary>Every knob of a training run (language modelling or classification).</summary>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="BatchSize">Examples (sequences or images) per optimizer step, split into <paramref name="AccumulationSteps"/> micro-batches.</param>
/// <param name="Context">Characters per sequence (language modelling only).</param>
/// <param name="LearningRate">Peak learning rate.</param>
/// <param name="WeightDecay">Weight decay, applied to matrices and kernels only (weights with ≥ 2 dimensions); decoupled for AdamW, AdamP and LAMB.</param>
/// <param name="Beta1">Adam β₁, or the momentum of the SGD family.</param>
/// <param name="Beta2">Adam β₂.</param>
/// <param name="WarmupSteps">Linear warm-up from 0 to the peak.</param>
/// <param name="Schedule">Decay after warm-up.</param>
/// <param name="GradientClip">Global gradient-norm clip (0: off).</param>
/// <param name="AccumulationSteps">Micro-batches per optimizer step (emulates micro-batch training; batch statistics see BatchSize/AccumulationSteps).</param>
/// <param name="EvaluateEvery">Validation every N steps (and at the end); 0: only at the end.</param>
/// <param name="EvaluationBatches">Classification and translation: validation batches per evaluation (classification: 0 = the whole test split).</param>
/// <param name="Seed">Seed for batches and dropout (initialisation is seeded by the caller, before the model is built).</param>
/// <param name="DivergenceFactor">Stop when the loss exceeds this multiple of the first step's loss (or is NaN/∞).</param>
/// <param name="Optimizer">Which optimizer.</param>
/// <param name="ProbeEvery">Read the run's probes every N steps, and at the first and last step; 0: never.</param>
/// <param name="ValidationCharacters">Language modelling: targets in the fixed validation set shared by every seed and variant
/// (<see cref="Data.CharDataset.ValidationSet"/>; capped by the validation stream).</param>
/// <param name="CollapseLoss">Language modelling: a run whose final validation loss is at or above this (the unigram loss,
/// <see cref="Data.NGramModel"/>) has collapsed and is recorded as failed; null: not checked.</param>
/// <param name="MinLearningRate">Floor of the linear and cosine decays, in [0, LearningRate]: the rate falls from LearningRate to
/// it, reaching it at step Steps (nanoGPT's and Chinchilla's min_lr; Hoffmann et al. 2022 decay the cosine to a tenth of the peak).
/// 0, the default, decays to zero as before, bit for bit; the constant schedule and the warm-up ignore it.</param>
public sealed record TrainingConfig(
    int Steps, int BatchSize = 16, int Context = 128, double LearningRate = 3e-3, double WeightDecay = 0.1, double Beta1 = 0.9,
    double Beta2 = 0.95, int WarmupSteps = 0, LearningRateSchedule Schedule = LearningRateSchedule.Cosine, double GradientClip = 1.0,
    int AccumulationSteps = 1, int EvaluateEvery = 0, int EvaluationBatches = 4, long Seed = 0, double DivergenceFactor = 4.0,
    OptimizerKind Optimizer = OptimizerKind.AdamW, int ProbeEvery = 0, int ValidationCharacters = 200_000, double? CollapseLoss = null,
    double MinLearningRate = 0)
{
    /// <summary>The learning rate at (0-based) <paramref name="step"/>: linear warm-up from LearningRate/WarmupSteps to LearningRate, then
    /// the schedule from LearningRate down to <see cref="MinLearningRate"/>, reached at step Steps (cosine: η_min + (η − η_min)·½(1 + cos πp),
    /// linear: η_min + (η − η_min)(1 − p), with p the fraction of the post-warm-up steps done).</summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps)
            return LearningRate * (step + 1) / WarmupSteps;
        var progress = Steps <= WarmupSteps ? 1.0 : (double)(step - WarmupSteps) / (Steps - WarmupSteps);
        return Schedule switch
        {
            LearningRateSchedule.Constant => LearningRate,
            LearningRateSchedule.Linear => MinLearningRate + (LearningRate - MinLearningRate) * (1 - progress),
            _ => MinLearningRate + (LearningRate - MinLearningRate) * 0.5 * (1 + Math.Cos(Math.PI * progress)),
        };
    }

    /// <summary>Whether the probes are read at (0-based) <paramref name="step"/>.</summary>
    public bool ProbesAt(int step) => ProbeEvery > 0 && (step == 0 || step == Steps - 1 || step % ProbeEvery == 0);

    internal void Validate()
    {
        if (Steps <= 0)
            throw new ArgumentException($"TrainingConfig.Steps must be positive, got {Steps}.", nameof(Steps));
        if (BatchSize <= 0 || AccumulationSteps <= 0 || BatchSize % AccumulationSteps != 0)
            throw new ArgumentException($"TrainingConfig.BatchSize ({BatchSize}) must be a positive multiple of AccumulationSteps ({AccumulationSteps}).", nameof(BatchSize));
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
            throw new ArgumentException($"TrainingConfig.LearningRate must be positive and finite, got {LearningRate}.", nameof(LearningRate));
        if (!(MinLearningRate >= 0 && MinLearningRate <= LearningRate))
            throw new ArgumentException($"TrainingConfig.MinLearningRate must be in [0, LearningRate = {LearningRate}], got {MinLearningRate}.", nameof(MinLearningRate));
        if (ValidationCharacters <= 0)
            throw new ArgumentException($"TrainingConfig.ValidationCharacters must be positive, got {ValidationCharacters}.", nameof(ValidationCharacters));
        if (WarmupSteps < 0 || EvaluateEvery < 0 || EvaluationBatches < 0 || ProbeEvery < 0 || GradientClip < 0 || WeightDecay < 0)
            throw new ArgumentException("TrainingConfig: WarmupSteps, EvaluateEvery, EvaluationBatches, ProbeEvery, GradientClip and WeightDecay must not be negative.");
    }
}
