// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>Settings of a toy GAN run.</summary>
/// <param name="Steps">Generator steps.</param>
/// <param name="BatchSize">Real and generated samples per step.</param>
/// <param name="LearningRate">Adam learning rate of both networks.</param>
/// <param name="Beta1">Adam β₁ (0.5, the DCGAN convention).</param>
/// <param name="Beta2">Adam β₂.</param>
/// <param name="DiscriminatorSteps">Discriminator updates per generator update.</param>
/// <param name="ScoreEvery">Score modes covered and sample quality every N steps (and at the end) on <paramref name="ScoreSamples"/> samples.</param>
/// <param name="ScoreSamples">Samples drawn for each score.</param>
/// <param name="Seed">Seed of the data and latent draws.</param>
public sealed record GanConfig(int Steps, int BatchSize = 256, double LearningRate = 1e-3, double Beta1 = 0.5, double Beta2 = 0.999,
    int DiscriminatorSteps = 1, int ScoreEvery = 100, int ScoreSamples = 2000, long Seed = 0);

/// <summary>One scoring of a GAN run.</summary>
public sealed record GanScore(int Step, double DiscriminatorLoss, double GeneratorLoss, int ModesCovered, double HighQuality);

/// <summary>A toy GAN run's record.</summary>
public sealed record GanResult(string Name, GanConfig Config, bool SpectralNorm, IReadOnlyList<GanScore> Scores, bool Diverged, string? DivergenceReason,
    double WallSeconds, int Modes)
{
    /// <summary>The last score.</summary>
    public GanScore Final => Scores[^1];
}

/// <summary>
/// Trains a <see cref="ToyGan"/> on a <see cref="GaussianMixture"/> with the non-saturating loss (Goodfellow et al. 2014): the
/// discriminator minimises BCE(D(x), 1) + BCE(D(G(z)), 0), the generator BCE(D(G(z)), 1); Adam for both. Stops and records on a
/// non-finite loss.
/// </summary>
public static class GanTrainer
{
    /// <summary>Trains <paramref name="gan"/> on <paramref name="target"/> for <see cref="GanConfig.Steps"/> generator steps, each after <see cref="GanConfig.DiscriminatorSteps"/> discriminator steps, scoring every <see cref="GanConfig.ScoreEvery"/> steps and at the end; <paramref name="progress"/> hears every step (generator loss, samples/s).</summary>
    /// <remarks>Runs on the device of the generator's parameters. Data and latent draws are seeded by <see cref="GanConfig.Seed"/>, scoring draws by Seed + 7. A non-finite loss stops the run; that step is scored and the result is marked diverged. <paramref name="name"/> labels the result and the progress reports.</remarks>
    public static GanResult Train(string name, ToyGan gan, GaussianMixture target, GanConfig config, Action<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(gan);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(config.Steps);
        var generatorOptimizer = optim.Adam(gan.Generator.parameters(), config.LearningRate, config.Beta1, config.Beta2);
        var discriminatorOptimizer = optim.Adam(gan.Discriminator.parameters(), config.LearningRate, config.Beta1, config.Beta2);
        var random = new Generator((ulong)config.Seed);
        var scoring = new Generator((ulong)config.Seed + 7);
        var device = gan.Generator.parameters().First().device;
        var scores = new List<GanScore>();
        string? divergence = null;
        var monitor = new RunMonitor(name, config.Steps, config.BatchSize, "samples", progress);
        gan.train();
        for (var step = 0; step < config.Steps && divergence is null; step++)
        {
            using var scope = NewDisposeScope();
            double dLoss = 0;
            for (var k = 0; k < config.DiscriminatorSteps; k++)
            {
                discriminatorOptimizer.zero_grad();
                var real = gan.Discriminator.forward(target.Sample(config.BatchSize, random, device));
                var fake = gan.Discriminator.forward(gan.Generate(config.BatchSize, random).detach());
                var loss = nn.functional.binary_cross_entropy_with_logits(real, ones_like(real)) + nn.functional.binary_cross_entropy_with_logits(fake, zeros_like(fake));
                loss.backward();
                discriminatorOptimizer.step();
                dLoss = loss.ToDouble();
            }
            generatorOptimizer.zero_grad();
            var judged = gan.Discriminator.forward(gan.Generate(config.BatchSize, random));
            var gLoss = nn.functional.binary_cross_entropy_with_logits(judged, ones_like(judged));
            gLoss.backward();
            generatorOptimizer.step();
            var g = gLoss.ToDouble();
            divergence = RunMonitor.NotFinite(step, ("discriminator loss", dLoss), ("generator loss", g));
            if (divergence is not null || step == config.Steps - 1 || (config.ScoreEvery > 0 && (step + 1) % config.ScoreEvery == 0))
            {
                using var _ = no_grad();
                var (covered, quality) = target.Score(gan.Generate(config.ScoreSamples, scoring));
                scores.Add(new GanScore(step + 1, dLoss, g, covered, quality));
            }
            monitor.StepDone(step + 1, g, null);
        }
        generatorOptimizer.Dispose();
        discriminatorOptimizer.Dispose();
        return new GanResult(name, config, gan.SpectralNormalized, scores, divergence is not null, divergence, monitor.Seconds, target.Modes);
    }
}
