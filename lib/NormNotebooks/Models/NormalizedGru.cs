// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>
/// One GRU layer whose pre-activations are normalised at every time step, as Nematus's layer-normalised GRU (and Ba et al. 2016, §3.1):
/// r, z = σ(N₁(W_g x_t) + N₂(U_g h_{t−1}) + b_g),  n = tanh(N₃(W_n x_t) + b_n + r ⊙ N₄(U_n h_{t−1})),  h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}.
/// The gate pair [r, z] (2H features) and the candidate (H features) are normalised separately, input side and state side separately,
/// each with its own gain; features are the last axis. The input-side norms act on all time steps in one call; the two state-side norms
/// run once per time step and share their parameters over time — for BatchNorm that means one set of statistics for every step, the
/// arrangement Ba et al. argue a recurrent network cannot use well. With norm "none" the N's are identities and this is a plain GRU.
/// </summary>
public sealed class NormalizedGru : nn.Module<Tensor, Tensor>
{
    private readonly Linear _inputGates, _inputCandidate, _stateGates, _stateCandidate;
    private readonly nn.Module<Tensor, Tensor>? _normInputGates, _normInputCandidate, _normStateGates, _normStateCandidate;
    [TorchSharp.Utils.ComponentName(Name = "gate_bias")] private readonly Parameter _gateBias;
    [TorchSharp.Utils.ComponentName(Name = "candidate_bias")] private readonly Parameter _candidateBias;

    /// <summary>A GRU layer from <paramref name="inputs"/> features to <paramref name="hidden"/> state units, with PyTorch's GRU
    /// initialisation (uniform ±1/√H) for the weights and zero biases.</summary>
    /// <param name="inputs">Features per time step.</param>
    /// <param name="hidden">State width H.</param>
    /// <param name="norm">"none", or a <see cref="NormFactory"/> name applied at every time step.</param>
    /// <param name="options">ε and implementation of the norms (the layout is always features-last).</param>
    public NormalizedGru(long inputs, long hidden, string norm = "none", NormOptions? options = null) : base(nameof(NormalizedGru))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hidden);
        ArgumentNullException.ThrowIfNull(norm);
        if (norm != "none" && !NormFactory.Names.Contains(norm))
            throw new ArgumentException($"NormalizedGru: unknown norm '{norm}'; use \"none\" or one of {string.Join(", ", NormFactory.Names)}.", nameof(norm));
        (Hidden, Norm) = (hidden, norm);
        _inputGates = nn.Linear(inputs, 2 * hidden, hasBias: false);
        _inputCandidate = nn.Linear(inputs, hidden, hasBias: false);
        _stateGates = nn.Linear(hidden, 2 * hidden, hasBias: false);
        _stateCandidate = nn.Linear(hidden, hidden, hasBias: false);
        var bound = 1.0 / Math.Sqrt(hidden);
        using (no_grad())
        {
            foreach (var linear in new[] { _inputGates, _inputCandidate, _stateGates, _stateCandidate })
                nn.init.uniform_(linear.weight!, -bound, bound);
        }
        _gateBias = new Parameter(zeros(2 * hidden));
        _candidateBias = new Parameter(zeros(hidden));
        if (norm != "none")
        {
            var featuresLast = (options ?? new NormOptions()) with { Layout = NormLayout.ChannelsLast };
            (_normInputGates, _normInputCandidate) = (NormFactory.Create(norm, 2 * hidden, featuresLast), NormFactory.Create(norm, hidden, featuresLast));
            (_normStateGates, _normStateCandidate) = (NormFactory.Create(norm, 2 * hidden, featuresLast), NormFactory.Create(norm, hidden, featuresLast));
        }
        RegisterComponents();
    }

    /// <summary>State width H.</summary>
    public long Hidden { get; }

    /// <summary>The norm's name ("none" for a plain GRU).</summary>
    public string Norm { get; }

    /// <summary>States [batch, time, H] for inputs [batch, time, features]; the state starts at zero for every sequence.</summary>
    public override Tensor forward(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.dim() != 3)
            throw new ArgumentException($"NormalizedGru expects inputs [batch, time, features]; got shape [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        var (batch, time) = (x.shape[0], x.shape[1]);
        var xGates = Normalise(_normInputGates, _inputGates.forward(x)) + _gateBias;                 // [B, T, 2H], all steps at once
        var xCandidate = Normalise(_normInputCandidate, _inputCandidate.forward(x)) + _candidateBias;
        var state = zeros(batch, Hidden, dtype: x.dtype, device: x.device);
        var states = new Tensor[time];
        for (var t = 0; t < time; t++)
        {
            var gates = (xGates.select(1, t) + Normalise(_normStateGates, _stateGates.forward(state))).sigmoid().chunk(2, -1);
            var (reset, update) = (gates[0], gates[1]);
            var candidate = (xCandidate.select(1, t) + reset * Normalise(_normStateCandidate, _stateCandidate.forward(state))).tanh();
            state = candidate + update * (state - candidate);                                           // (1 − z) ⊙ n + z ⊙ h
            states[t] = state;
        }
        return stack(states, 1).MoveToOuterDisposeScope();
    }

    private static Tensor Normalise(nn.Module<Tensor, Tensor>? norm, Tensor x) => norm is null ? x : norm.forward(x);
}
