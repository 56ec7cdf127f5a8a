// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class ToyGanTests
{
    [Fact]
    public void Mixture_ScoresItsOwnSamplesAsFullCoverage_AndACollapseAsOneMode()
    {
        var ring = GaussianMixture.Ring(8, radius: 2, std: 0.02);
        Assert.Equal(2, Math.Sqrt(ring.Centres[3, 0] * ring.Centres[3, 0] + ring.Centres[3, 1] * ring.Centres[3, 1]), Tolerances.ClosedFormDecimals);
        var (covered, quality) = ring.Score(ring.Sample(4000, new Generator(1)));
        Assert.Equal(8, covered);
        // P(r < 3σ) = 1 − e^(−4.5) ≈ 0.989 for a 2-D Gaussian; the share of 4,000 seeded samples within Tolerances.StandardErrors of it.
        var withinThreeSigma = 1 - Math.Exp(-4.5);
        Assert.InRange(quality, withinThreeSigma - Tolerances.StandardErrors * Math.Sqrt(withinThreeSigma * (1 - withinThreeSigma) / 4000), 1.0);
        var collapsed = tensor(new[] { 2.0f, 0.0f }).repeat(500, 1);
        Assert.Equal((1, 1.0), ring.Score(collapsed));
        Assert.Equal(25, GaussianMixture.Grid(5).Modes);
    }

    [Fact]
    public void SpectralNorm_GoesOnTheDiscriminatorOnly()
    {
        manual_seed(1);
        var gan = new ToyGan(spectralNorm: true);
        Assert.Equal(4, gan.Discriminator.modules().Count(m => m is SpectralNorm));
        Assert.DoesNotContain(gan.Generator.modules(), m => m is SpectralNorm);
        Assert.Equal([7L, 2L], gan.Generate(7).shape);
        Assert.DoesNotContain(new ToyGan().modules(), m => m is SpectralNorm);
    }

    [Fact]
    public void Trainer_ScoresOnSchedule_AndMovesTheSamplesOntoTheRing()
    {
        manual_seed(2);
        var ring = GaussianMixture.Ring();
        var gan = new ToyGan(width: 64, spectralNorm: true);
        double RadialError() { using var _ = no_grad(); return (gan.Generate(1000).norm(1) - 2).abs().mean().ToDouble(); }
        var before = RadialError();
        var result = GanTrainer.Train("sn", gan, ring, new GanConfig(1500, BatchSize: 128, ScoreEvery: 500, ScoreSamples: 1000));
        Assert.False(result.Diverged, result.DivergenceReason);
        Assert.Equal([500, 1000, 1500], result.Scores.Select(s => s.Step));
        var after = RadialError();
        Assert.True(after < 0.5 * before, $"mean | ‖G(z)‖ − 2 | went from {before:F3} to {after:F3}");   // measured ratio 0.22
    }
}
