// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Data;

/// <summary>
/// A synthetic translation task with a known answer, for encoder-decoder experiments (the NMT scaling notebook): the source is a
/// random sequence of <see cref="Length"/> word tokens; the target is the source reversed, each word mapped by the fixed permutation
/// t ↦ 3 + ((a·(t − 3) + b) mod W) of the W word tokens. Solving it needs attention from each target position to a distant source
/// position plus a lexical map. Ids: 0 = PAD (unused, kept for compatibility), 1 = BOS, 2 = EOS, 3 … 3 + W − 1 = words.
/// </summary>
public sealed class SyntheticTranslation : ITranslationTask
{
    /// <summary>Begin-of-sequence id (the decoder's first input).</summary>
    public const int Bos = 1;

    /// <summary>End-of-sequence id (the decoder's last target).</summary>
    public const int Eos = 2;

    private const int Specials = 3;

    /// <summary>A task over <paramref name="words"/> word tokens and sources of <paramref name="length"/> words, with the word map t ↦ 3 + ((a·(t − 3) + b) mod W).</summary>
    /// <param name="words">W ≥ 2, the number of word tokens (32).</param>
    /// <param name="length">Source length (12); the decoder sequences have Length + 1 tokens.</param>
    /// <param name="multiplier">a (5); must be coprime with W so the map is a permutation.</param>
    /// <param name="shift">b (7).</param>
    public SyntheticTranslation(int words = 32, int length = 12, int multiplier = 5, int shift = 7)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(words, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        if (Gcd(multiplier, words) != 1)
            throw new ArgumentException($"SyntheticTranslation: the multiplier {multiplier} must be coprime with {words} words so the map is a permutation.", nameof(multiplier));
        (Words, Length, Multiplier, Shift) = (words, length, multiplier, shift);
    }

    /// <summary>W, the number of word tokens (ids 3 … 3 + W − 1).</summary>
    public int Words { get; }
    /// <summary>Source (and target) length in words; decoder input and target have Length + 1 tokens (with BOS or EOS).</summary>
    public int Length { get; }
    /// <summary>a in the word map t ↦ 3 + ((a·(t − 3) + b) mod W); coprime with W.</summary>
    public int Multiplier { get; }
    /// <summary>b in the word map t ↦ 3 + ((a·(t − 3) + b) mod W).</summary>
    public int Shift { get; }

    /// <summary>Size of the shared vocabulary (specials and words).</summary>
    public int VocabularySize => Words + Specials;

    /// <summary>The target word for source word <paramref name="token"/>.</summary>
    public int Map(int token) => Specials + (int)(((long)Multiplier * (token - Specials) + Shift) % Words);

    /// <summary>The reference translation of a source sequence (without BOS/EOS).</summary>
    public int[] Translate(IReadOnlyList<int> source) => source.Reverse().Select(Map).ToArray();

    /// <summary>A batch: source [B, Length], decoder input [B, Length + 1] (BOS + target), decoder target [B, Length + 1] (target + EOS).</summary>
    public (Tensor Source, Tensor DecoderInput, Tensor DecoderTarget) SampleBatch(int batchSize, Generator? generator = null, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        using var scope = NewDisposeScope();
        var source = randint(Specials, Specials + Words, [batchSize, Length], generator: generator, dtype: ScalarType.Int64);
        var mapped = ((source.flip(1) - Specials) * Multiplier + Shift).remainder(Words) + Specials;
        var input = cat([full(batchSize, 1, Bos, dtype: ScalarType.Int64), mapped], 1);
        var target = cat([mapped, full(batchSize, 1, Eos, dtype: ScalarType.Int64)], 1);
        if (device is not null)
            (source, input, target) = (source.to(device), input.to(device), target.to(device));
        return (source.MoveToOuterDisposeScope(), input.MoveToOuterDisposeScope(), target.MoveToOuterDisposeScope());
    }

    /// <summary>Seed of the validation batches: one fixed seed for every run, so runs with different training seeds or variants are
    /// scored on the same sentences and pair.</summary>
    public const long ValidationSeed = 1_000_003;

    /// <summary><paramref name="batches"/> (at least one) batches of <paramref name="batchSize"/> drawn with <see cref="ValidationSeed"/>:
    /// the same for every call.</summary>
    public IEnumerable<(Tensor Source, Tensor DecoderInput, Tensor DecoderTarget)> ValidationBatches(int batchSize, int batches, Device? device = null)
    {
        var generator = new Generator((ulong)ValidationSeed);
        for (var b = 0; b < Math.Max(1, batches); b++)
            yield return SampleBatch(batchSize, generator, device);
    }

    private static int Gcd(int a, int b) => b == 0 ? Math.Abs(a) : Gcd(b, a % b);
}
