// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Data;

/// <summary>
/// A translation task on real English text for encoder-decoder scaling (the NMT scaling notebook). The source is a window of
/// <see cref="Length"/> characters of a <see cref="CharDataset"/> in which each word (a maximal run of letters) is hidden with
/// probability <see cref="MaskRate"/>: its letters become the mask token. The target is the whole window in a fixed "other
/// language": every letter enciphered by one fixed permutation of the alphabet (case kept; a case with a letter missing from the
/// vocabulary stays as it is, so the map is a bijection), everything else as it is. The visible
/// words are a lexical map and a monotone alignment; the hidden words must be guessed from the context on both sides, which is
/// language modelling with real entropy. So the loss has an irreducible part and falls with model capacity the way a language
/// model's does, and both the encoder (the source, read both ways) and the decoder (the target so far) can carry the prediction.
/// Training windows come from <see cref="CharDataset.Train"/> with fresh masks; validation is a fixed set of windows of
/// <see cref="CharDataset.Validation"/> with fixed masks, the same for every run.
/// Ids: 0 = PAD (unused), 1 = BOS, 2 = EOS, 3 + c for character c of the data set's vocabulary, and <see cref="MaskId"/> (source only).
/// </summary>
public sealed class CipherTranslation : ITranslationTask
{
    /// <summary>Begin-of-sequence id (the decoder's first input).</summary>
    public const int Bos = 1;

    /// <summary>End-of-sequence id (the decoder's last target).</summary>
    public const int Eos = 2;

    /// <summary>Seed of the validation masks.</summary>
    public const long ValidationSeed = 1_000_003;

    private const int Specials = 3;
    private readonly CharDataset _data;
    private readonly int[] _cipher;
    private readonly bool[] _letter;
    private readonly int[] _validationStarts;
    private readonly bool[][] _validationMasks;

    /// <summary>The task over <paramref name="data"/>.</summary>
    /// <param name="data">The characters (e.g. the Brown corpus as a <see cref="CharDataset"/>).</param>
    /// <param name="length">Characters per window (48).</param>
    /// <param name="maskRate">Probability that a word is hidden in the source, in [0, 1) (0.3).</param>
    /// <param name="validationWindows">Validation windows (512), non-overlapping and evenly spread over the validation stream (fewer if it is short).</param>
    /// <param name="seed">Seed of the cipher (0).</param>
    /// <exception cref="ArgumentException">A parameter out of range (named), or streams shorter than a window.</exception>
    public CipherTranslation(CharDataset data, int length = 48, double maskRate = 0.3, int validationWindows = 512, long seed = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(validationWindows, 1);
        if (!(maskRate >= 0 && maskRate < 1))
            throw new ArgumentOutOfRangeException(nameof(maskRate), maskRate, "CipherTranslation: the mask rate must be in [0, 1).");
        if (data.Train.Length <= length || data.Validation.Length < length)
            throw new ArgumentException($"CipherTranslation: windows of {length} characters need longer streams than {data.Train.Length:N0} (training) and {data.Validation.Length:N0} (validation).", nameof(data));
        (_data, Length, MaskRate, Seed) = (data, length, maskRate, seed);

        var vocabulary = data.Vocabulary;
        _letter = vocabulary.Select(char.IsAsciiLetter).ToArray();
        var alphabet = Enumerable.Range(0, 26).ToArray();
        var state = (ulong)seed ^ 0x5DEECE66DUL;
        for (var i = 25; i > 0; i--)
        {
            var j = (int)(Mix(ref state) % (ulong)(i + 1));
            (alphabet[i], alphabet[j]) = (alphabet[j], alphabet[i]);
        }
        // A case is enciphered only when the vocabulary holds all 26 of its letters, so the map stays a bijection of the vocabulary.
        bool Complete(char first) => Enumerable.Range(0, 26).All(k => vocabulary.Contains((char)(first + k)));
        var (lower, upper) = (Complete('a'), Complete('A'));
        _cipher = vocabulary.Select((c, id) =>
            char.IsAsciiLetterLower(c) && lower ? vocabulary.IndexOf((char)('a' + alphabet[c - 'a']))
            : char.IsAsciiLetterUpper(c) && upper ? vocabulary.IndexOf((char)('A' + alphabet[c - 'A']))
            : id).ToArray();

        var count = Math.Min(validationWindows, data.Validation.Length / length);
        var stride = (data.Validation.Length - length) / Math.Max(1, count - 1);
        _validationStarts = Enumerable.Range(0, count).Select(i => Math.Min(i * stride, data.Validation.Length - length)).ToArray();
        var draws = new SplitMix((ulong)ValidationSeed);
        _validationMasks = _validationStarts.Select(s => WordMask(data.Validation, s, Enumerable.Range(0, length).Select(_ => draws.NextDouble()).ToArray())).ToArray();
    }

    /// <summary>Characters per window; decoder sequences have Length + 1 tokens.</summary>
    public int Length { get; }
    /// <summary>Probability that a word is hidden in the source.</summary>
    public double MaskRate { get; }
    /// <summary>Seed of the cipher.</summary>
    public long Seed { get; }
    /// <summary>The mask token (source only).</summary>
    public int MaskId => Specials + _data.VocabularySize;
    /// <summary>Shared vocabulary: the specials, the characters and the mask token.</summary>
    public int VocabularySize => Specials + _data.VocabularySize + 1;
    /// <summary>Validation windows.</summary>
    public int ValidationWindows => _validationStarts.Length;
    /// <summary>Share of the validation windows' characters that are hidden in the source.</summary>
    public double ValidationMaskedShare => _validationMasks.Sum(m => m.Count(x => x)) / (double)(_validationMasks.Length * Length);

    /// <summary>The enciphered text (letters through the cipher, case kept; everything else unchanged).</summary>
    public string Encipher(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _data.Decode(_data.Encode(text).Select(c => _cipher[c]));
    }

    /// <summary>Validation window <paramref name="index"/> as text: the source ('_' for a hidden letter) and the target.</summary>
    public (string Source, string Target) Example(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _validationStarts.Length);
        var s = _validationStarts[index];
        var text = _data.Validation[s..(s + Length)];
        return (new string(text.Select((c, i) => _validationMasks[index][i] ? '_' : _data.Vocabulary[c]).ToArray()), _data.Decode(text.Select(c => _cipher[c])));
    }

    /// <summary>Training windows from the training stream, with fresh masks, both drawn with <paramref name="generator"/>.</summary>
    public (Tensor Source, Tensor DecoderInput, Tensor DecoderTarget) SampleBatch(int batchSize, Generator? generator = null, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        using var starts = randint(0, _data.Train.Length - Length + 1, [batchSize], generator: generator, dtype: ScalarType.Int64);
        using var draws = rand([batchSize, Length], generator: generator, dtype: ScalarType.Float64);
        var s = starts.data<long>().ToArray();
        var u = draws.data<double>().ToArray();
        var masks = Enumerable.Range(0, batchSize).Select(b => WordMask(_data.Train, (int)s[b], u.AsSpan(b * Length, Length).ToArray())).ToArray();
        return Batch(_data.Train, s.Select(x => (int)x).ToArray(), masks, device);
    }

    /// <summary>The fixed validation windows and masks in batches of <paramref name="batchSize"/> (<paramref name="batches"/> is ignored:
    /// every window is scored).</summary>
    public IEnumerable<(Tensor Source, Tensor DecoderInput, Tensor DecoderTarget)> ValidationBatches(int batchSize, int batches, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        for (var first = 0; first < _validationStarts.Length; first += batchSize)
        {
            var last = Math.Min(_validationStarts.Length, first + batchSize);
            yield return Batch(_data.Validation, _validationStarts[first..last], _validationMasks[first..last], device);
        }
    }

    /// <summary>The loss (nats per target token, EOS included) on the validation windows of a reference that copies every visible
    /// character exactly (through the known cipher) and fills each hidden letter from <paramref name="ngram"/>, an n-gram model of the
    /// plain text conditioned on the characters before it (the cipher is a bijection, so the entropies are the same). It sees the
    /// hidden letters' left context only, as a decoder without an encoder would.</summary>
    public double CopyAndFillLoss(NGramModel ngram)
    {
        ArgumentNullException.ThrowIfNull(ngram);
        double nats = 0;
        for (var w = 0; w < _validationStarts.Length; w++)
            for (var i = 0; i < Length; i++)
                if (_validationMasks[w][i])
                    nats -= Math.Log(ngram.Probability(_data.Validation, _validationStarts[w], _validationStarts[w] + i));
        return nats / (_validationStarts.Length * (Length + 1.0));
    }

    // Hidden positions of a window: each word (a maximal run of letters, cut by the window's edges) is hidden when the draw at its
    // first character is below the mask rate.
    private bool[] WordMask(int[] stream, int start, double[] draws)
    {
        var mask = new bool[Length];
        var hidden = false;
        for (var i = 0; i < Length; i++)
        {
            var letter = _letter[stream[start + i]];
            if (letter && (i == 0 || !_letter[stream[start + i - 1]]))
                hidden = draws[i] < MaskRate;
            mask[i] = letter && hidden;
        }
        return mask;
    }

    private (Tensor Source, Tensor DecoderInput, Tensor DecoderTarget) Batch(int[] stream, int[] starts, bool[][] masks, Device? device)
    {
        var n = starts.Length;
        var source = new long[n * Length];
        var input = new long[n * (Length + 1)];
        var target = new long[n * (Length + 1)];
        for (var b = 0; b < n; b++)
        {
            input[b * (Length + 1)] = Bos;
            for (var i = 0; i < Length; i++)
            {
                var c = stream[starts[b] + i];
                source[b * Length + i] = masks[b][i] ? MaskId : Specials + c;
                target[b * (Length + 1) + i] = input[b * (Length + 1) + i + 1] = Specials + _cipher[c];
            }
            target[b * (Length + 1) + Length] = Eos;
        }
        var src = tensor(source, [n, Length], ScalarType.Int64);
        var inp = tensor(input, [n, Length + 1], ScalarType.Int64);
        var tgt = tensor(target, [n, Length + 1], ScalarType.Int64);
        if (device is not null && device.type != DeviceType.CPU)
            (src, inp, tgt) = (Move(src, device), Move(inp, device), Move(tgt, device));
        return (src, inp, tgt);
    }

    private static Tensor Move(Tensor t, Device device)
    {
        var moved = t.to(device);
        t.Dispose();
        return moved;
    }

    private static ulong Mix(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // SplitMix64 as a double stream: fixed and portable, for the validation masks.
    private sealed class SplitMix(ulong state)
    {
        private ulong _state = state;
        public double NextDouble() => (Mix(ref _state) >> 11) * (1.0 / (1UL << 53));
    }
}
