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
/// A one-layer GRU character language model whose recurrent pre-activations are normalised at every time step, the setting in which
/// Zhang and Sennrich (2019) measured RMSNorm's largest savings (their GRU models follow Nematus's layer-normalised GRU):
/// r, z = σ(N₁(W_g x_t) + N₂(U_g h_{t−1}) + b_g),  n = tanh(N₃(W_n x_t) + b_n + r ⊙ N₄(U_n h_{t−1})),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.
/// The gate pair [r, z] (2H features) and the candidate (H features) are normalised separately, input side and state side separately,
/// each with its own gain. The input-side norms act on all time steps in one call (row-wise, so the result is the same); the two
/// state-side norms run once per time step. With Norm = "none" the N's are identities and the model is a plain GRU.
/// </summary>
public sealed class CharGru : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _embedding;
    private readonly Linear _inputGates, _inputCandidate, _stateGates, _stateCandidate, _head;
    private readonly nn.Module<Tensor, Tensor>? _normInputGates, _normInputCandidate, _normStateGates, _normStateCandidate;
    [TorchSharp.Utils.ComponentName(Name = "gate_bias")] private readonly Parameter _gateBias;
    [TorchSharp.Utils.ComponentName(Name = "candidate_bias")] private readonly Parameter _candidateBias;

    /// <summary>Builds the model with PyTorch's GRU initialisation (uniform ±1/√H) for the recurrent weights.</summary>
    public CharGru(GruConfig config) : base(nameof(CharGru))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var h = config.Hidden;
        _embedding = nn.Embedding(config.Vocabulary, config.Width);
        _inputGates = nn.Linear(config.Width, 2 * h, hasBias: false);
        _inputCandidate = nn.Linear(config.Width, h, hasBias: false);
        _stateGates = nn.Linear(h, 2 * h, hasBias: false);
        _stateCandidate = nn.Linear(h, h, hasBias: false);
        _head = nn.Linear(h, config.Vocabulary);
        var bound = 1.0 / Math.Sqrt(h);
        using (no_grad())
        {
            foreach (var linear in new[] { _inputGates, _inputCandidate, _stateGates, _stateCandidate })
                nn.init.uniform_(linear.weight!, -bound, bound);
        }
        _gateBias = new Parameter(zeros(2 * h));
        _candidateBias = new Parameter(zeros(h));
        if (config.Norm != "none")
        {
            var options = new NormOptions { Eps = config.NormEps, Implementation = config.NormImplementation };
            (_normInputGates, _normInputCandidate) = (NormFactory.Create(config.Norm, 2 * h, options), NormFactory.Create(config.Norm, h, options));
            (_normStateGates, _normStateCandidate) = (NormFactory.Create(config.Norm, 2 * h, options), NormFactory.Create(config.Norm, h, options));
        }
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
        var (batch, time) = (tokens.shape[0], tokens.shape[1]);
        var embedded = _embedding.forward(tokens);
        var xGates = Normalise(_normInputGates, _inputGates.forward(embedded)) + _gateBias;            // [B, T, 2H], all steps at once
        var xCandidate = Normalise(_normInputCandidate, _inputCandidate.forward(embedded)) + _candidateBias;
        var state = zeros(batch, Config.Hidden, dtype: embedded.dtype, device: embedded.device);
        var states = new Tensor[time];
        for (var t = 0; t < time; t++)
        {
            var gates = (xGates.select(1, t) + Normalise(_normStateGates, _stateGates.forward(state))).sigmoid().chunk(2, -1);
            var (reset, update) = (gates[0], gates[1]);
            var candidate = (xCandidate.select(1, t) + reset * Normalise(_normStateCandidate, _stateCandidate.forward(state))).tanh();
            state = candidate + update * (state - candidate);                                           // (1 − z) ⊙ n + z ⊙ h
            states[t] = state;
        }
        return _head.forward(stack(states, 1)).MoveToOuterDisposeScope();
    }

    private static Tensor Normalise(nn.Module<Tensor, Tensor>? norm, Tensor x) => norm is null ? x : norm.forward(x);

    /// <inheritdoc/>
    public override string ToString() => $"CharGru(width={Config.Width}, hidden={Config.Hidden}, norm={Config.Norm})";
}
