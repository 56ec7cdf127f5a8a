// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Tests.Support;

namespace NormNotebooks.Tests.Data;

public sealed class NGramModelTests
{
    [Fact]
    public void Bigram_IsInterpolatedKneserNey_ByHand()
    {
        // Bigrams of 0 1 0 1 2 0 1: 01 ×3, 10, 12, 20. Seen once: 3, twice: 0 → D₂ = 1, clamped to 0.95.
        // Continuation counts N₁₊(•w): w=0 ← {1, 2} = 2, w=1 ← {0} = 1, w=2 ← {1} = 1; total 4, 3 types; D₁ = 2/(2 + 2·1) = 0.5.
        // P₁(w) = (N₁₊(•w) − 0.5 + 0.5·3·⅓)/4 = N₁₊(•w)/4.  P₂(1 | 0) = (3 − 0.95 + 0.95·1·P₁(1))/3.
        int[] train = [0, 1, 0, 1, 2, 0, 1];
        var model = new NGramModel(train, vocabulary: 3, order: 2);
        int[] probe = [0, 1, 1, 0, 0, 2];
        Assert.Equal((3 - 0.95 + 0.95 * 0.25) / 3, model.Probability(probe, 0, 1), Tolerances.ClosedFormDecimals);      // P(1 | 0)
        Assert.Equal((0 + 0.95 * 1 * 0.5) / 3, model.Probability(probe, 0, 4), Tolerances.ClosedFormDecimals);          // P(0 | 0): unseen bigram, seen context
        Assert.Equal(0.25, model.Probability(probe, 1, 1), Tolerances.ClosedFormDecimals);                              // the window starts at 1: no history
        Assert.Equal((1 - 0.95 + 0.95 * 2 * 0.5) / 2, model.Probability(probe, 0, 3), Tolerances.ClosedFormDecimals);   // P(0 | 1): context 1 has 10 and 12
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Probabilities_SumToOne_ForEveryHistory(int order)
    {
        var train = MarkovStream(5_000, seed: 3);
        var model = new NGramModel(train, Vocabulary, order);
        var random = new Random(11);
        for (var trial = 0; trial < 20; trial++)
        {
            var history = Enumerable.Range(0, 3).Select(_ => random.Next(Vocabulary)).ToArray();
            var total = Enumerable.Range(0, Vocabulary).Sum(w => model.Probability([.. history, w], 0, 3));
            Assert.Equal(1.0, total, Tolerances.Float64Sum(Vocabulary * order));   // V probabilities, each a few roundings per order
        }
    }

    [Fact]
    public void OnASecondOrderMarkovChain_TheTrigramReachesTheEntropyRate_AndBeatsLowerOrders()
    {
        var train = MarkovStream(400_000, seed: 1);
        var heldOut = MarkovStream(60_000, seed: 2);
        var windows = new ValidationWindows(heldOut, Enumerable.Range(0, 500).Select(i => i * 100).ToArray(), 99);
        var loss = Enumerable.Range(1, 4).Select(order => new NGramModel(train, Vocabulary, order).CrossEntropy(windows)).ToArray();
        var entropyRate = EntropyRate();
        Assert.True(loss[0] > loss[1] && loss[1] > loss[2], $"unigram {loss[0]:F4}, bigram {loss[1]:F4}, trigram {loss[2]:F4}");
        // Window starts see a shorter history (2 of 99 targets), which costs a little: allow 0.03 nats (measured 0.0006).
        Assert.InRange(loss[2] - entropyRate, 0, 0.03);
        Assert.InRange(loss[3] - loss[2], -0.005, 0.02);                                     // the 4-gram adds nothing but noise (measured +0.007)
    }

    [Fact]
    public void Constructor_RejectsIdsOutsideTheVocabulary_AndBadOrders()
    {
        Assert.Contains("Id 7", Assert.Throws<ArgumentException>(() => new NGramModel([0, 1, 7, 2], 4, 2)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NGramModel([0, 1, 2], 4, 5));
    }

    private const int Vocabulary = 6;

    // A second-order chain: the next id depends on the last two through a fixed, peaked table.
    private static double[] NextDistribution(int a, int b)
    {
        var weights = Enumerable.Range(0, Vocabulary).Select(w => Math.Exp(2.0 * Math.Sin(1.3 * w + 2.1 * a - 0.7 * b + a * b))).ToArray();
        var sum = weights.Sum();
        return weights.Select(x => x / sum).ToArray();
    }

    private static int[] MarkovStream(int length, int seed)
    {
        var random = new Random(seed);
        var stream = new int[length];
        for (var i = 2; i < length; i++)
        {
            var p = NextDistribution(stream[i - 2], stream[i - 1]);
            var u = random.NextDouble();
            var w = 0;
            for (var acc = p[0]; acc < u && w < Vocabulary - 1; acc += p[++w]) { }
            stream[i] = w;
        }
        return stream;
    }

    // H = Σ_{a,b} π(a, b) H(next | a, b), with π the chain's stationary distribution over pairs (power iteration).
    private static double EntropyRate()
    {
        var pi = Enumerable.Repeat(1.0 / (Vocabulary * Vocabulary), Vocabulary * Vocabulary).ToArray();
        for (var iteration = 0; iteration < 500; iteration++)
        {
            var next = new double[pi.Length];
            for (var a = 0; a < Vocabulary; a++)
                for (var b = 0; b < Vocabulary; b++)
                {
                    var p = NextDistribution(a, b);
                    for (var w = 0; w < Vocabulary; w++)
                        next[b * Vocabulary + w] += pi[a * Vocabulary + b] * p[w];
                }
            pi = next;
        }
        var h = 0.0;
        for (var a = 0; a < Vocabulary; a++)
            for (var b = 0; b < Vocabulary; b++)
                h -= pi[a * Vocabulary + b] * NextDistribution(a, b).Sum(p => p * Math.Log(p));
        return h;
    }
}
