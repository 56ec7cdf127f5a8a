// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Data;

public sealed class CharDatasetTests
{
    private static readonly string[] Texts = ["alpha beta", "gamma", "delta epsilon", "zeta", "eta theta", "iota"];

    [Fact]
    public void Split_IsByDocument_EveryNthToValidation()
    {
        var data = new CharDataset(Texts, validationEvery: 3, separator: "|");
        Assert.Equal(4, data.TrainDocuments);
        Assert.Equal(2, data.ValidationDocuments);
        Assert.Equal("alpha beta|gamma|zeta|eta theta", data.Decode(data.Train));
        Assert.Equal("delta epsilon|iota", data.Decode(data.Validation));
        Assert.Equal(" abdeghilmnopstz|", new string(data.Vocabulary.Order().ToArray()));
    }

    [Fact]
    public void Encode_RejectsUnknownCharacters_NamingThem()
    {
        var data = new CharDataset(Texts, validationEvery: 3);
        var error = Assert.Throws<ArgumentException>(() => data.Encode("alpha!"));
        Assert.Contains("U+0021", error.Message);
        Assert.Contains("position 5", error.Message);
    }

    [Fact]
    public void SampleBatch_TargetsAreInputsShiftedByOne_AndRepeatWithTheSeed()
    {
        var data = new CharDataset(Texts, validationEvery: 3);
        using var scope = NewDisposeScope();
        var (x, y) = data.SampleBatch(data.Train, batchSize: 4, context: 6, generator: new Generator(11));
        Assert.Equal([4L, 6], x.shape);
        Assert.Equal(ScalarType.Int64, y.dtype);
        Assert.True(x[.., 1..].allclose(y[.., ..^1], rtol: 0, atol: 0));
        var (again, _) = data.SampleBatch(data.Train, batchSize: 4, context: 6, generator: new Generator(11));
        Assert.True(x.allclose(again, rtol: 0, atol: 0));
        var text = data.Decode(data.Train);
        for (var b = 0; b < 4; b++)
        {
            var window = data.Decode(x[b].data<long>().Select(v => (int)v));
            Assert.Contains(window, text);
        }
    }

    [Fact]
    [Trait("Category", "Data")]
    public void BrownCharacters_HaveAVocabularyOfPrintableAscii()
    {
        var data = new CharDataset(TestData.Brown.Select(d => d.Text).ToList());
        Assert.Equal(450, data.TrainDocuments);
        Assert.Equal(50, data.ValidationDocuments);
        Assert.All(data.Vocabulary, c => Assert.True(c == '\n' || (c >= ' ' && c <= '~'), $"U+{(int)c:X4}"));
        Assert.InRange(data.VocabularySize, 60, 100);
    }

    [Fact]
    public void ValidationSet_IsFixed_NonOverlapping_AndCoversTheRequestedCharacters()
    {
        var data = new CharDataset(Enumerable.Range(0, 30).Select(i => new string((char)('a' + i % 26), 50 + i)).ToList(), validationEvery: 3);
        var set = data.ValidationSet(context: 16, characters: 200);
        Assert.Equal(13, set.Starts.Count);                                  // ⌈200/16⌉ windows
        Assert.True(set.Characters >= 200);
        Assert.Equal(set.Starts, data.ValidationSet(16, 200).Starts);         // nothing random in it
        for (var i = 1; i < set.Starts.Count; i++)
            Assert.True(set.Starts[i] - set.Starts[i - 1] >= 16, "windows overlap");
        Assert.True(set.Starts[^1] + 16 < data.Validation.Length, "the last target is inside the stream");
        var whole = data.ValidationSet(16, 1_000_000);                       // more than the stream holds: as many as fit
        Assert.Equal((data.Validation.Length - 1) / 16, whole.Starts.Count);
        using var scope = NewDisposeScope();
        var (x, y) = set.Batch(2, 3);
        Assert.Equal([3L, 16], x.shape);
        Assert.Equal(data.Validation[set.Starts[2] + 1], (int)y[0, 0].item<long>());
        Assert.True(x[.., 1..].allclose(y[.., ..^1], rtol: 0, atol: 0));
    }

    [Fact]
    public void SampleSentences_ReturnsWholeLines_PaddedAndMasked()
    {
        var lines = new[] { "a short one.", "a much longer sentence here.", "mid length line", "x" };
        var data = new CharDataset([string.Join("\n", lines), string.Join("\n", lines.Reverse()), "validation text"], validationEvery: 3);
        var (tokens, mask) = data.SampleSentences(data.Train, 16, 20, new Generator(3));
        Assert.Equal(tokens.shape, mask.shape);
        Assert.Equal(16, tokens.shape[0]);
        var lengths = mask.sum([1L]).data<long>().ToArray();
        Assert.Equal(lengths.Max(), tokens.shape[1]);
        for (var b = 0; b < 16; b++)
        {
            var row = tokens[b].data<long>().Select(v => (int)v).ToArray();
            var text = data.Decode(row.Take((int)lengths[b]));
            Assert.Contains(lines, l => l.Length > 20 ? l[..20] == text : l == text);   // a whole line, cut at maxLength
            Assert.All(row.Skip((int)lengths[b]), v => Assert.Equal(0, v));              // padding id 0 ...
            Assert.False(mask[b, (int)lengths[b]..].any().item<bool>());                  // ... outside the mask
        }
        Assert.True(lengths.Distinct().Count() > 1, "lengths must vary across sentences");
        var (again, _) = data.SampleSentences(data.Train, 16, 20, new Generator(3));
        Assert.True(tokens.equal(again).all().item<bool>(), "the same generator seed gives the same batch");
        Assert.Throws<ArgumentOutOfRangeException>(() => data.SampleSentences(data.Train, 0, 20));
    }
}
