// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>
/// Generator and discriminator MLPs for 2-D toy distributions (<see cref="Data.GaussianMixture"/>). The discriminator's linear layers
/// are spectrally normalised (Miyato et al. 2018) when <c>spectralNorm</c> is on; everything else is equal, so runs isolate its effect.
/// </summary>
public sealed class ToyGan : nn.Module
{
    [ComponentName(Name = "generator")] private Sequential _generator;
    [ComponentName(Name = "discriminator")] private Sequential _discriminator;

    /// <summary>A generator (latent → 2) and a discriminator (2 → 1) MLP in PyTorch's default linear init.</summary>
    /// <param name="latent">Dimension of the generator's N(0, I) input (8).</param>
    /// <param name="width">Hidden width of both networks (128).</param>
    /// <param name="depth">Hidden layers in each network (3).</param>
    /// <param name="spectralNorm">Spectrally normalise every linear layer of the discriminator.</param>
    public ToyGan(int latent = 8, int width = 128, int depth = 3, bool spectralNorm = false) : base(nameof(ToyGan))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        (Latent, SpectralNormalized) = (latent, spectralNorm);
        var g = new List<(string, nn.Module<Tensor, Tensor>)>();
        var d = new List<(string, nn.Module<Tensor, Tensor>)>();
        long gIn = latent, dIn = 2;
        for (var i = 0; i < depth; i++)
        {
            g.Add(($"fc{i}", nn.Linear(gIn, width)));
            g.Add(($"act{i}", nn.ReLU()));
            d.Add(($"fc{i}", spectralNorm ? SpectralNorm.Linear(dIn, width) : nn.Linear(dIn, width)));
            d.Add(($"act{i}", nn.LeakyReLU(0.2)));
            (gIn, dIn) = (width, width);
        }
        g.Add(("out", nn.Linear(width, 2)));
        d.Add(("out", spectralNorm ? SpectralNorm.Linear(width, 1) : nn.Linear(width, 1)));
        _generator = nn.Sequential(g);
        _discriminator = nn.Sequential(d);
        RegisterComponents();
    }

    /// <summary>Dimension of the generator's N(0, I) input.</summary>
    public int Latent { get; }

    /// <summary>Whether the discriminator is spectrally normalised.</summary>
    public bool SpectralNormalized { get; }

    /// <summary>The generator (state key "generator"): latent → [Linear, ReLU] × depth → Linear → a 2-D point.</summary>
    public Sequential Generator => _generator;
    /// <summary>The discriminator (state key "discriminator"): 2-D point → [Linear, LeakyReLU(0.2)] × depth → Linear → one logit; the linear layers are <see cref="SpectralNorm"/> when on.</summary>
    public Sequential Discriminator => _discriminator;

    /// <summary><paramref name="count"/> generated points [count, 2].</summary>
    public Tensor Generate(int count, Generator? generator = null)
    {
        var device = _generator.parameters().First().device;
        return _generator.forward(randn([count, Latent], generator: generator).to(device));
    }
}
