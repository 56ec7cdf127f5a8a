// SPDX-License-Identifier: MIT
namespace NormNotebooks.Data;

/// <summary>
/// Character n-gram language models fitted on a training stream: the add-one unigram (order 1) and interpolated Kneser–Ney for
/// orders 2–4, the baselines a character language model must beat before depth, placement or normalization can matter.
/// </summary>
/// <remarks>Interpolated Kneser–Ney (Chen &amp; Goodman, "An Empirical Study of Smoothing Techniques for Language Modeling", 1998,
/// §2.7 with one discount per order): for the highest order
/// P(w | h) = max(c(hw) − D, 0)/c(h) + D·N₁₊(h•)/c(h) · P(w | h′), with h′ = h without its first character; lower orders (and a
/// window's first targets, whose history is shorter) use continuation counts N₁₊(•h′w) in place of c(h′w); the lowest is interpolated with the uniform 1/V, so no probability is 0.
/// D = n₁/(n₁ + 2n₂) per order (Ney, Essen &amp; Kneser 1994), n_k the number of n-grams seen k times. A context never seen backs
/// off to the next order whole. Order 1 is (c(w) + 1)/(N + V), the "unigram loss" a collapsed model sits at.</remarks>
public sealed class NGramModel
{
    private readonly int _vocabulary;
    private readonly int _order;
    private readonly double[] _discount;                                      // D per order (index = order)
    private readonly Dictionary<long, int>[] _counts;                         // key (h, w) → c or continuation count, per order
    private readonly Dictionary<long, (int Total, int Types)>[] _contexts;    // key h → (Σ_w count, N₁₊(h•)), per order
    private readonly double[] _unigram;

    /// <summary>Fits a model of <paramref name="order"/> (1–4) on a stream of ids in [0, <paramref name="vocabulary"/>).</summary>
    public NGramModel(int[] train, int vocabulary, int order)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(order, 4);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 2);
        if (train.Length < order + 1)
            throw new ArgumentException($"The training stream has {train.Length} ids, too few for order {order}.", nameof(train));
        (_vocabulary, _order) = (vocabulary, order);
        var frequency = new double[vocabulary];
        foreach (var id in train)
        {
            if ((uint)id >= (uint)vocabulary)
                throw new ArgumentException($"Id {id} is outside the vocabulary of {vocabulary}.", nameof(train));
            frequency[id]++;
        }
        _unigram = frequency.Select(c => (c + 1) / (train.Length + vocabulary)).ToArray();
        _counts = new Dictionary<long, int>[order + 1];
        _contexts = new Dictionary<long, (int, int)>[order + 1];
        _discount = new double[order + 1];
        if (order == 1)
            return;

        // Raw counts of the highest order; continuation counts N₁₊(•g) for every lower order k ≥ 1 (g of length k).
        var highest = new Dictionary<long, int>();
        for (var i = order - 1; i < train.Length; i++)
        {
            var key = Key(train, i - order + 1, order);
            highest[key] = highest.GetValueOrDefault(key) + 1;
        }
        _counts[order] = highest;
        for (var k = order - 1; k >= 1; k--)
        {
            var continuation = new Dictionary<long, int>();
            foreach (var key in _counts[k + 1].Keys)
            {
                var suffix = key % Power(k);                      // drop the first (oldest) character
                continuation[suffix] = continuation.GetValueOrDefault(suffix) + 1;
            }
            _counts[k] = continuation;
        }
        for (var k = 1; k <= order; k++)
        {
            var contexts = new Dictionary<long, (int Total, int Types)>();
            int once = 0, twice = 0;
            foreach (var (key, count) in _counts[k])
            {
                var context = key / vocabulary;
                var (total, types) = contexts.GetValueOrDefault(context);
                contexts[context] = (total + count, types + 1);
                once += count == 1 ? 1 : 0;
                twice += count == 2 ? 1 : 0;
            }
            _contexts[k] = contexts;
            _discount[k] = once + twice == 0 ? 0.5 : Math.Clamp((double)once / (once + 2.0 * twice), 0.05, 0.95);
        }
    }

    /// <summary>The model's order (1 = unigram).</summary>
    public int Order => _order;

    /// <summary>P(w | the <see cref="Order"/> − 1 ids before position <paramref name="position"/> of <paramref name="stream"/>, but none before
    /// <paramref name="start"/>): a window's first targets see a shorter history, as a Transformer reading that window does.</summary>
    public double Probability(int[] stream, int start, int position)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var w = stream[position];
        if (_order == 1)
            return _unigram[w];
        var history = Math.Min(_order - 1, position - start);
        return Interpolated(stream, position, w, history);
    }

    /// <summary>Mean cross-entropy in nats per character over the targets of <paramref name="windows"/> (each target predicted from the
    /// characters of its own window only).</summary>
    public double CrossEntropy(ValidationWindows windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        double total = 0;
        long count = 0;
        foreach (var start in windows.Starts)
        {
            for (var t = 1; t <= windows.Context; t++)            // targets stream[start + 1 .. start + context]
            {
                total -= Math.Log(Probability(windows.Stream, start, start + t));
                count++;
            }
        }
        return total / count;
    }

    private double Interpolated(int[] stream, int position, int w, int history)
    {
        var k = history + 1;                                      // order of this level
        var lower = history == 0 ? 1.0 / _vocabulary : Interpolated(stream, position, w, history - 1);
        if (!_contexts[k].TryGetValue(history == 0 ? 0 : Key(stream, position - history, history), out var context))
            return lower;                                         // unseen context: back off whole
        var count = _counts[k].GetValueOrDefault(Key(stream, position - history, k));
        var d = _discount[k];
        return (Math.Max(count - d, 0) + d * context.Types * lower) / context.Total;
    }

    private long Key(int[] stream, int from, int length)
    {
        long key = 0;
        for (var i = 0; i < length; i++)
            key = key * _vocabulary + stream[from + i];
        return key;
    }

    private long Power(int k)
    {
        long p = 1;
        for (var i = 0; i < k; i++)
            p *= _vocabulary;
        return p;
    }
}
