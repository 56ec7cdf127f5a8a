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
    /// Samples <paramref name="batchSize"/> windows of <paramref name="context"/> characters from a stream, at
    /// offsets drawn from <paramref name="generator"/>; returns inputs x [B, T] and next-character targets y [B, T] (int64).
    /// </summary>
    public (Tensor X, Tensor Y) SampleBatch(int[] stream, int batchSize, int context, Generator? generator = null, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context);
        if (stream.Length <= context + 1)
            throw new ArgumentException($"The stream has {stream.Length} characters, too few for context {context}.", nameof(stream));
        using var offsets = randint(0, stream.Length - context - 1, [batchSize], dtype: int64, generator: generator);
        var x = new long[batchSize * context];
        var y = new long[batchSize * context];
        var starts = offsets.data<long>().ToArray();
        for (var b = 0; b < batchSize; b++)
        {
            for (var t = 0; t < context; t++)
            {
                x[b * context + t] = stream[starts[b] + t];
                y[b * context + t] = stream[starts[b] + t + 1];
            }
        }
        return (tensor(x, [batchSize, context], device: device), tensor(y, [batchSize, context], device: device));
    }
}
