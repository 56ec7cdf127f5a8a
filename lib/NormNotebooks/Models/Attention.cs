// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>
/// Scaled dot-product multi-head attention (Vaswani et al. 2017, Eq. 1: softmax(QKᵀ/√d_h)·V per head), written out so probes can
/// read the weights: the one implementation behind <see cref="CausalSelfAttention"/>, the encoder-decoder blocks of
/// <see cref="Seq2SeqTransformer"/> and the converted Pre-CRMSNorm model.
/// </summary>
public static class Attention
{
    /// <summary>Attention of queries <paramref name="q"/> [B, T_q, w] to keys <paramref name="k"/> and values <paramref name="v"/>
    /// [B, T_k, w] split into <paramref name="heads"/> heads of width w/heads → [B, T_q, w]; <paramref name="weights"/> are the
    /// attention weights [B, heads, T_q, T_k].</summary>
    /// <param name="q">Queries [B, T_q, w].</param>
    /// <param name="k">Keys [B, T_k, w].</param>
    /// <param name="v">Values [B, T_k, w].</param>
    /// <param name="heads">Number of heads; divides w.</param>
    /// <param name="causal">Query i sees keys 0…i only (self-attention of a decoder).</param>
    /// <param name="weights">The softmax weights, part of the autograd graph.</param>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads, bool causal, out Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        var (batch, tq, width) = (q.shape[0], q.shape[1], q.shape[2]);
        var tk = k.shape[1];
        if (width % heads != 0)
            throw new ArgumentException($"Heads ({heads}) must divide the width ({width}).", nameof(heads));
        var dh = width / heads;
        Tensor Split(Tensor t, long time) => t.view(batch, time, heads, dh).transpose(1, 2);   // [B, h, T, dh]
        var scores = Split(q, tq).matmul(Split(k, tk).transpose(-2, -1)) / Math.Sqrt(dh);
        if (causal)
            scores = MaskOut(scores, ones(tq, tk, dtype: ScalarType.Bool, device: q.device).triu(1));
        weights = scores.softmax(-1);
        return weights.matmul(Split(v, tk)).transpose(1, 2).reshape(batch, tq, width);
    }

    /// <summary><see cref="Attend(Tensor, Tensor, Tensor, int, bool, out Tensor)"/> without the weights.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, int heads, bool causal) => Attend(q, k, v, heads, causal, out _);

    /// <summary>Self-attention of a packed projection <paramref name="qkv"/> [B, T, 3·w] (q, k, v side by side, as a fused
    /// [w → 3w] linear layer writes them) → [B, T, w], with the weights [B, heads, T, T].</summary>
    public static Tensor SelfAttend(Tensor qkv, int heads, bool causal, out Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(qkv);
        var parts = qkv.chunk(3, -1);
        return Attend(parts[0], parts[1], parts[2], heads, causal, out weights);
    }

    /// <summary>scores with the positions of <paramref name="mask"/> set to −∞, through a 0-d tensor rather than a TorchSharp Scalar: an
    /// implicit double → Scalar temporary can be finalized while libtorch still reads it (a long run crashed in masked_fill with a
    /// garbage Scalar), and a Scalar kept in a static field is freed by the dispose scope it was created in (double free).</summary>
    internal static Tensor MaskOut(Tensor scores, Tensor mask) =>
        where(mask, tensor(float.NegativeInfinity, dtype: scores.dtype, device: scores.device), scores);
}
