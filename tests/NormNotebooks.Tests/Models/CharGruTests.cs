// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Tests.Support;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class CharGruTests
{
    private static Tensor Tokens(long seed = 1) => randint(0, 11, [3, 9], dtype: ScalarType.Int64, generator: new Generator((ulong)seed));

    private static CharGru Model(string norm, long seed = 2)
    {
        manual_seed(seed);
        var model = new CharGru(new GruConfig(11, Width: 6, Hidden: 5, Norm: norm));
        model.to(float64);
        using (no_grad())
        {
            foreach (var (_, p) in model.named_parameters())   // non-trivial biases and gains, so a wrong term shows
                p.add_(rand_like(p) * 0.3);
        }
        return model;
    }

    private static Tensor Param(CharGru model, string name) => model.named_parameters().Single(p => p.name == name).parameter;

    [Fact]
    public void WithoutNorm_IsLibtorchsGru()
    {
        using var scope = NewDisposeScope();
        var model = Model("none");
        var tokens = Tokens();
        var gru = nn.GRU(6, 5, batchFirst: true);
        gru.to(float64);
        using (no_grad())
        {
            var parameters = gru.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            parameters["weight_ih_l0"].copy_(cat([Param(model, "gru._inputGates.weight"), Param(model, "gru._inputCandidate.weight")], 0));
            parameters["weight_hh_l0"].copy_(cat([Param(model, "gru._stateGates.weight"), Param(model, "gru._stateCandidate.weight")], 0));
            parameters["bias_ih_l0"].copy_(cat([Param(model, "gru.gate_bias"), Param(model, "gru.candidate_bias")], 0));
            parameters["bias_hh_l0"].zero_();
        }
        var (states, _) = gru.forward(Param(model, "_embedding.weight")[tokens], zeros(1, 3, 5, dtype: float64));
        var head = Param(model, "_head.weight");
        var expected = states.matmul(head.t()) + Param(model, "_head.bias");
        // Each of the 9 steps sums over the 6 inputs and the 5 hidden units, in libtorch's order and ours.
        Tolerances.AssertCloseNormwise(expected, model.forward(tokens), Tolerances.Float64Sum(9 * (6 + 5)), what: "plain CharGru vs nn.GRU");
    }

    [Fact]
    public void LayerNormGru_NormalisesEveryStep_AsWritten()
    {
        using var scope = NewDisposeScope();
        var model = Model("layernorm");
        var tokens = Tokens(4);
        Tensor P(string name) => Param(model, name);
        Tensor Ln(Tensor x, string norm) => nn.functional.layer_norm(x, [x.shape[^1]], P($"{norm}.weight"), P($"{norm}.bias"), 1e-5);
        var x = P("_embedding.weight")[tokens];
        var h = zeros(3, 5, dtype: float64);
        var logits = new List<Tensor>();
        for (var t = 0; t < 9; t++)
        {
            var xt = x.select(1, t);
            var gates = (Ln(xt.matmul(P("gru._inputGates.weight").t()), "gru._normInputGates") + P("gru.gate_bias")
                + Ln(h.matmul(P("gru._stateGates.weight").t()), "gru._normStateGates")).sigmoid();
            var (r, z) = (gates[.., ..5], gates[.., 5..]);
            var n = (Ln(xt.matmul(P("gru._inputCandidate.weight").t()), "gru._normInputCandidate") + P("gru.candidate_bias")
                + r * Ln(h.matmul(P("gru._stateCandidate.weight").t()), "gru._normStateCandidate")).tanh();
            h = (1 - z) * n + z * h;
            logits.Add(h.matmul(P("_head.weight").t()) + P("_head.bias"));
        }
        Tolerances.AssertCloseNormwise(stack(logits, 1), model.forward(tokens), Tolerances.Float64Sum(9 * (6 + 5)), what: "LN-GRU vs a hand-written loop");
        Assert.Equal(2, model.NormCallsPerStep);
    }

    [Fact]
    public void IsCausal_AndRejectsBadInput()
    {
        using var scope = NewDisposeScope();
        var model = Model("rmsnorm");
        var tokens = Tokens();
        var changed = tokens.clone();
        changed[.., 5] = (changed[.., 5] + 1) % 11;
        var (a, b) = (model.forward(tokens), model.forward(changed));
        Tolerances.AssertClose(a[.., ..5], b[.., ..5], Tolerances.Exact, what: "positions before the change");   // the same recurrence on the same inputs
        const double changeEffect = 1e-6;   // measured: the later logits move by up to 0.42
        Assert.True((a[.., 5..] - b[.., 5..]).abs().max().ToDouble() > changeEffect);
        Assert.Throws<ArgumentException>(() => model.forward(zeros(9, dtype: ScalarType.Int64)));
        var error = Assert.Throws<ArgumentException>(() => new CharGru(new GruConfig(11, Norm: "nonorm")));
        Assert.Contains("nonorm", error.Message);
    }

    [Fact]
    public void Trains_WithTheLanguageModelTrainer()
    {
        var data = new CharDataset(Enumerable.Range(0, 20).Select(i => string.Concat(Enumerable.Repeat($"the quick brown fox {i % 4} jumps. ", 12))).ToList(),
            validationEvery: 5);
        manual_seed(5);
        var result = LanguageModelTrainer.Train("gru", new CharGru(new GruConfig(data.VocabularySize, 24, 32, "rmsnorm")), data,
            new TrainingConfig(60, BatchSize: 8, Context: 24, LearningRate: 1e-2, WarmupSteps: 5, Seed: 7, ValidationCharacters: 500));
        Assert.False(result.Diverged, result.DivergenceReason);
        Assert.True(result.Steps[^1].Loss < 0.6 * result.Steps[0].Loss, $"loss {result.Steps[0].Loss:F3} → {result.Steps[^1].Loss:F3}");   // measured ratio 0.056
        Assert.Contains("CharGru", result.ModelDescription);
    }
}
