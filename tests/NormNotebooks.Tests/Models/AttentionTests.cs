// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Models;

public sealed class AttentionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Attend_MatchesLibtorchScaledDotProductAttention(bool causal)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var (batch, tq, width, heads) = (2, 5, 12, 3);
        var tk = causal ? tq : 7;
        var q = randn(batch, tq, width);
        var k = randn(batch, tk, width);
        var v = randn(batch, tk, width);
        var ours = Attention.Attend(q, k, v, heads, causal, out var weights);
        Tensor Heads(Tensor t) => t.view(batch, t.shape[1], heads, width / heads).transpose(1, 2);
        var reference = nn.functional.scaled_dot_product_attention(Heads(q), Heads(k), Heads(v), is_casual: causal)
            .transpose(1, 2).reshape(batch, tq, width);
        Assert.True(ours.allclose(reference, rtol: 0, atol: Tolerances.Float32), $"max |Δ| {(ours - reference).abs().max().ToSingle():E2}");
        Assert.Equal([batch, heads, tq, tk], weights.shape);
        Assert.True(weights.sum(-1).allclose(ones(batch, heads, tq), rtol: 0, atol: Tolerances.Float32));
        if (causal)
            Assert.Equal(0f, weights.masked_select(ones(tq, tk, dtype: ScalarType.Bool).triu(1).expand_as(weights)).abs().max().ToSingle());
    }

    [Fact]
    public void SelfAttend_SplitsThePackedProjectionIntoQueriesKeysAndValues()
    {
        using var scope = NewDisposeScope();
        manual_seed(4);
        var qkv = randn(2, 6, 24);
        var parts = qkv.chunk(3, -1);
        var packed = Attention.SelfAttend(qkv, 2, causal: true, out var packedWeights);
        var separate = Attention.Attend(parts[0], parts[1], parts[2], 2, causal: true, out var weights);
        Assert.True(packed.allclose(separate, rtol: 0, atol: 0));
        Assert.True(packedWeights.allclose(weights, rtol: 0, atol: 0));
    }

    [Fact]
    public void Attend_RejectsHeadsThatDoNotDivideTheWidth()
    {
        using var scope = NewDisposeScope();
        var x = zeros(1, 2, 10);
        var error = Assert.Throws<ArgumentException>(() => Attention.Attend(x, x, x, 3, causal: false));
        Assert.Contains("Heads (3) must divide the width (10)", error.Message);
    }
}
