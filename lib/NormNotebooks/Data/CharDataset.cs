// SPDX-License-Identifier: MIT
using static TorchSharp.torch;

namespace NormNotebooks.Data;

/// <summary>
/// A character-level language-modelling data set: a vocabulary, and training and validation token
/// streams split by document (no document contributes to both).
/// </summary>
public sealed class CharDataset
{
    private readonly Dictionary<char, int> _index;

    /// <summary>Builds a data set from documents; every <paramref name="validationEvery"/>-th document (1-based) goes to validation.</summary>
    /// <param name="documents">Texts in a fixed order; their order decides the split.</param>
    /// <param name="validationEvery">Put documents <c>k·n − 1</c> (0-based) in validation: 10 keeps 10% and spreads it over genres.</param>
    /// <param name="separator">Inserted between documents in a stream.</param>
    public CharDataset(IReadOnlyList<string> documents, int validationEvery = 10, string separator = "\n\n")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(validationEvery, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(documents.Count, validationEvery, nameof(documents));
        Vocabulary = new string(documents.SelectMany(d => d).Concat(separator).Distinct().Order().ToArray());
        _index = Vocabulary.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i);
        var train = documents.Where((_, i) => (i + 1) % validationEvery != 0).ToList();
        var validation = documents.Where((_, i) => (i + 1) % validationEvery == 0).ToList();
        (TrainDocuments, ValidationDocuments) = (train.Count, validation.Count);
        Train = Encode(string.Join(separator, train));
        Validation = Encode(string.Join(separator, validation));
    }

    /// <summary>The distinct characters, in ordinal order; a character's id is its position.</summary>
    public string Vocabulary { get; }

    /// <summary>Number of distinct characters.</summary>
    public int VocabularySize => Vocabulary.Length;

    /// <summary>Training stream (character ids).</summary>
    public int[] Train { get; }

    /// <summary>Validation stream (character ids).</summary>
    public int[] Validation { get; }

    /// <summary>Documents in the training stream.</summary>
    public int TrainDocuments { get; }

    /// <summary>Documents in the validation stream.</summary>
    public int ValidationDocuments { get; }

    /// <summary>Maps text to ids; a character outside the vocabulary is an error naming it.</summary>
    public int[] Encode(string text)
    {
        var ids = new int[text.Length];
        for (var i = 0; i < text.Length; i++)
        {
            if (!_index.TryGetValue(text[i], out ids[i]))
                throw new ArgumentException($"Character U+{(int)text[i]:X4} at position {i} is not in the vocabulary.", nameof(text));
        }
        return ids;
    }

    /// <summary>Maps ids back to text.</summary>
    public string Decode(IEnumerable<int> ids) => new(ids.Select(id => Vocabulary[id]).ToArray());

    /// <summary>
    /// The fixed validation set every run, seed and variant shares: non-overlapping windows of <paramref name="context"/> + 1
    /// characters spread evenly over the validation stream, enough of them to hold <paramref name="characters"/> targets (or the
    /// whole stream when it is shorter). It depends on nothing but its arguments, so paired comparisons see the same targets.
    /// </summary>
    public ValidationWindows ValidationSet(int context, int characters)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(characters);
        var fit = (Validation.Length - 1) / context;
        if (fit < 1)
            throw new ArgumentException($"The validation stream has {Validation.Length} characters, too few for context {context}.", nameof(context));
        var count = Math.Min(fit, (characters + context - 1) / context);
        var stride = count == 1 ? 0 : (Validation.Length - 1 - context) / (count - 1);   // ≥ context, since count·context ≤ length − 1
        return new ValidationWindows(Validation, Enumerable.Range(0, count).Select(i => i * stride).ToArray(), context);
    }

    /// <summary>
    /// Samples <paramref name="batchSize"/> windows of <paramref name="context"/> characters from a stream, at
    /// offsets drawn from <paramref name="generator"/>; returns inputs x [B, T] and next-character targets y [B, T] (int64).
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "A dataset's operation: callers write data.SampleBatch(data.Train, …), as they do with its other members.")]
    public (Tensor X, Tensor Y) SampleBatch(int[] stream, int batchSize, int context, Generator? generator = null, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context);
        if (stream.Length <= context + 1)
            throw new ArgumentException($"The stream has {stream.Length} characters, too few for context {context}.", nameof(stream));
        using var offsets = randint(0, stream.Length - context - 1, [batchSize], dtype: int64, generator: generator);
        var starts = offsets.data<long>().ToArray();
        return Gather(stream, starts.Length, b => starts[b], context, device);
    }

    /// <summary>
    /// A batch of whole sentences as a sentence-level NLP batch is built (fairseq and the PowerNorm paper's setting): sentences are the
    /// lines of <paramref name="stream"/> (the Brown corpus has one per line), <paramref name="batchSize"/> of them drawn by
    /// <paramref name="generator"/>, each cut at <paramref name="maxLength"/> characters and right-padded with id 0 to the longest in
    /// the batch. Returns tokens [B, T] (int64) and a mask [B, T] (bool, true on real characters), so statistics can skip the padding;
    /// the number of real characters varies from batch to batch.
    /// </summary>
    public (Tensor Tokens, Tensor Mask) SampleSentences(int[] stream, int batchSize, int maxLength, Generator? generator = null, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLength);
        var sentences = SentenceSpans(stream);
        if (sentences.Count == 0)
            throw new ArgumentException("The stream has no non-empty line to sample a sentence from.", nameof(stream));
        using var picks = randint(0, sentences.Count, [batchSize], dtype: int64, generator: generator);
        var chosen = picks.data<long>().Select(i => sentences[(int)i]).Select(sp => (sp.Start, Length: Math.Min(sp.Length, maxLength))).ToArray();
        var width = chosen.Max(c => c.Length);
        var tokens = new long[batchSize * width];
        var mask = new bool[batchSize * width];
        for (var b = 0; b < batchSize; b++)
            for (var t = 0; t < chosen[b].Length; t++)
            {
                tokens[b * width + t] = stream[chosen[b].Start + t];
                mask[b * width + t] = true;
            }
        return (tensor(tokens, [batchSize, width], device: device), tensor(mask, [batchSize, width], device: device));
    }

    private readonly Dictionary<int[], List<(int Start, int Length)>> _sentenceSpans = new(ReferenceEqualityComparer.Instance);

    private List<(int Start, int Length)> SentenceSpans(int[] stream)
    {
        lock (_sentenceSpans)
        {
            if (_sentenceSpans.TryGetValue(stream, out var cached))
                return cached;
            var newline = Vocabulary.IndexOf('\n');
            var spans = new List<(int Start, int Length)>();
            var start = 0;
            for (var i = 0; i <= stream.Length; i++)
                if (i == stream.Length || stream[i] == newline)
                {
                    if (i > start)
                        spans.Add((start, i - start));
                    start = i + 1;
                }
            _sentenceSpans[stream] = spans;
            return spans;
        }
    }

    /// <summary>Inputs x [count, T] = stream[s .. s + T − 1] and targets y = stream[s + 1 .. s + T] for the window starts s = start(b).</summary>
    internal static (Tensor X, Tensor Y) Gather(int[] stream, int count, Func<int, long> start, int context, Device? device)
    {
        var x = new long[count * context];
        var y = new long[count * context];
        for (var b = 0; b < count; b++)
        {
            var s = start(b);
            for (var t = 0; t < context; t++)
            {
                x[b * context + t] = stream[s + t];
                y[b * context + t] = stream[s + t + 1];
            }
        }
        return (tensor(x, [count, context], device: device), tensor(y, [count, context], device: device));
    }
}

/// <summary>Windows of a stream: window i reads <c>Stream[Starts[i] .. Starts[i] + Context − 1]</c> and predicts the next character at
/// each position, so it has <see cref="Context"/> targets.</summary>
public sealed record ValidationWindows(int[] Stream, IReadOnlyList<int> Starts, int Context)
{
    /// <summary>Targets in the set (nats per character are averaged over these).</summary>
    public long Characters => (long)Starts.Count * Context;

    /// <summary>Inputs x [n, T] and targets y [n, T] (int64) of windows <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> − 1.</summary>
    public (Tensor X, Tensor Y) Batch(int first, int count, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first + count, Starts.Count, nameof(count));
        return CharDataset.Gather(Stream, count, b => Starts[first + b], Context, device);
    }
}
