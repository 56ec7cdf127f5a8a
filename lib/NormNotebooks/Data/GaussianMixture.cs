// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Data;

/// <summary>
/// A 2-D mixture of equal-weight isotropic Gaussians, the toy target of GAN mode-collapse studies (e.g. 8 modes on a ring, 25 on a
/// grid), with the usual quality measures: a sample is high-quality when it lies within 3σ of its nearest centre, and a mode is
/// covered when at least <see cref="CoverageFraction"/> of the samples are high-quality samples of that mode.
/// </summary>
public sealed class GaussianMixture
{
    /// <summary>The share of all samples a mode needs among its high-quality samples to count as covered (1%).</summary>
    public const double CoverageFraction = 0.01;

    /// <summary>A mixture with one equal-weight N(c, σ²I) per row c of <paramref name="centres"/> [modes, 2], with σ = <paramref name="std"/> &gt; 0.</summary>
    public GaussianMixture(double[,] centres, double std)
    {
        ArgumentNullException.ThrowIfNull(centres);
        if (centres.GetLength(1) != 2 || centres.GetLength(0) == 0)
            throw new ArgumentException("GaussianMixture: centres must be [modes, 2].", nameof(centres));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(std);
        (Centres, Std) = (centres, std);
    }

    /// <summary>The centres [modes, 2].</summary>
    public double[,] Centres { get; }

    /// <summary>σ of every component.</summary>
    public double Std { get; }

    /// <summary>Number of modes.</summary>
    public int Modes => Centres.GetLength(0);

    /// <summary><paramref name="modes"/> Gaussians evenly on a circle of <paramref name="radius"/>.</summary>
    public static GaussianMixture Ring(int modes = 8, double radius = 2, double std = 0.02)
    {
        var centres = new double[modes, 2];
        for (var m = 0; m < modes; m++)
            (centres[m, 0], centres[m, 1]) = (radius * Math.Cos(2 * Math.PI * m / modes), radius * Math.Sin(2 * Math.PI * m / modes));
        return new GaussianMixture(centres, std);
    }

    /// <summary>A side × side grid of Gaussians with the given spacing, centred on the origin.</summary>
    public static GaussianMixture Grid(int side = 5, double spacing = 2, double std = 0.05)
    {
        var centres = new double[side * side, 2];
        for (var i = 0; i < side; i++)
            for (var j = 0; j < side; j++)
                (centres[i * side + j, 0], centres[i * side + j, 1]) = ((i - (side - 1) / 2.0) * spacing, (j - (side - 1) / 2.0) * spacing);
        return new GaussianMixture(centres, std);
    }

    /// <summary><paramref name="count"/> samples [count, 2] (float32) drawn with <paramref name="generator"/>.</summary>
    public Tensor Sample(int count, Generator? generator = null, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var modes = randint(0, Modes, [count], generator: generator, dtype: ScalarType.Int64);
        var centres = tensor(Centres, dtype: ScalarType.Float32).index_select(0, modes);
        var samples = centres + Std * randn([count, 2], generator: generator);
        return (device is null ? samples : samples.to(device)).MoveToOuterDisposeScope();
    }

    /// <summary>How many modes <paramref name="samples"/> [N, 2] cover, and the share of high-quality samples.</summary>
    public (int ModesCovered, double HighQuality) Score(Tensor samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        using var scope = NewDisposeScope();
        var x = samples.to(ScalarType.Float64).cpu();
        var centres = tensor(Centres, dtype: ScalarType.Float64);
        var distances = cdist(x, centres);                                  // [N, modes]
        var (nearest, index) = distances.min(1);
        var good = nearest.le(3 * Std);
        var counts = bincount(index.masked_select(good), minlength: Modes).data<long>().ToArray();
        var n = samples.shape[0];
        return (counts.Count(c => c >= CoverageFraction * n), good.sum().ToDouble() / n);
    }
}
