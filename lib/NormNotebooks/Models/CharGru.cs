// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>
/// Configuration of a <see cref="CharGru"/>.
/// </summary>
/// <param name="Vocabulary">Number of distinct characters.</param>
/// <param name="Width">Embedding width.</param>
/// <param name="Hidden">GRU state width H.</param>
/// <param name="Norm">"none", or a <see cref="NormFactory"/> name applied at every time step ("layernorm", "rmsnorm", "prmsnorm").</param>
/// <param name="NormEps">ε of every norm; null keeps each norm's own default.</param>
/// <param name="NormImplementation">The code every LayerNorm and RMSNorm runs (<see cref="Norms.NormImplementation"/>), when not each norm's
/// default.</param>
public sealed record GruConfig(int Vocabulary, int Width = 128, int Hidden = 128, string Norm = "none", double? NormEps = null,
    NormImplementation? NormImplementation = null)
{
    /// <summary>Throws a clear error for a size that cannot build a model.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Vocabulary, nameof(Vocabulary));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Width, nameof(Width));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Hidden, nameof(Hidden));
        if (Norm != "none" && !NormFactory.Names.Contains(Norm))
            throw new ArgumentException($"GruConfig.Norm: unknown norm '{Norm}'; use \"none\" or one of {string.Join(", ", NormFactory.Names)}.", nameof(Norm));
    }
}

/// <summary>
/// A one-layer GRU character language model whose recurrent pre-activations are normalised at every time step (<see cref="NormalizedGru"/>),
/// the setting in which Zhang and Sennrich (2019) measured RMSNorm's largest savings (their GRU models follow Nematus's layer-normalised
/// GRU): embedding → <see cref="NormalizedGru"/> → linear head at every position.
/// </summary>
public sealed class CharGru : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _embedding;
    [TorchSharp.Utils.ComponentName(Name = "gru")] private readonly NormalizedGru _gru;
    private readonly Linear _head;

    /// <summary>Builds the model with PyTorch's GRU initialisation (uniform ±1/√H) for the recurrent weights.</summary>
    public CharGru(GruConfig config) : base(nameof(CharGru))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        _embedding = nn.Embedding(config.Vocabulary, config.Width);
        _gru = new NormalizedGru(config.Width, config.Hidden, config.Norm, new NormOptions { Eps = config.NormEps, Implementation = config.NormImplementation });
        _head = nn.Linear(config.Hidden, config.Vocabulary);
        RegisterComponents();
    }

    /// <summary>The configuration the model was built from.</summary>
    public GruConfig Config { get; }

    /// <summary>Norm calls per time step on the recurrent path (0 without norms, else 2).</summary>
    public int NormCallsPerStep => Config.Norm == "none" ? 0 : 2;

    /// <summary>Logits [batch, time, vocabulary] for tokens [batch, time]; the state starts at zero for every sequence.</summary>
    public override Tensor forward(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.dim() != 2)
            throw new ArgumentException($"CharGru expects tokens [batch, time]; got shape [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        using var scope = NewDisposeScope();
        return _head.forward(_gru.forward(_embedding.forward(tokens))).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"CharGru(width={Config.Width}, hidden={Config.Hidden}, norm={Config.Norm})";
}
