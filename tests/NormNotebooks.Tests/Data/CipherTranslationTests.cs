// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using TorchSharp;

namespace NormNotebooks.Tests.Data;

public sealed class CipherTranslationTests
{
    private static readonly CharDataset Text = new(Enumerable.Range(0, 40)
        .Select(i => $"The quick brown fox {i} jumps over the lazy dog; Pack my box with five dozen liquor jugs!").ToList());

    private static int[] Row(torch.Tensor t, int row) => t[row].data<long>().Select(v => (int)v).ToArray();

    [Fact]
    public void Cipher_PermutesLetters_KeepingCase_AndLeavesEverythingElse()
    {
        var task = new CipherTranslation(Text);
        const string plain = "The quick brown fox; jumps over 12 dogs!";
        var cipher = task.Encipher(plain);
        Assert.Equal(plain.Length, cipher.Length);
        for (var i = 0; i < plain.Length; i++)
        {
            Assert.Equal(char.IsAsciiLetter(plain[i]), char.IsAsciiLetter(cipher[i]));
            if (!char.IsAsciiLetter(plain[i]))
                Assert.Equal(plain[i], cipher[i]);
            else
                Assert.Equal(char.IsAsciiLetterUpper(plain[i]), char.IsAsciiLetterUpper(cipher[i]));
        }
        // One letter, one image; different letters, different images (the pangrams use all 26 lower-case letters).
        var pairs = plain.Zip(cipher).Where(p => char.IsAsciiLetterLower(p.First)).Select(p => (p.First, p.Second)).Distinct().ToList();
        Assert.Equal(pairs.Count, pairs.Select(p => p.Item1).Distinct().Count());
        Assert.Equal(pairs.Count, pairs.Select(p => p.Item2).Distinct().Count());
        Assert.NotEqual(plain, cipher);
        // The corpus has only two capitals, T and P, so capitals are not enciphered: a partial map could send two letters to one.
        Assert.Equal('T', cipher[0]);
    }

    [Fact]
    public void Batches_HideWholeWords_AndTheTargetIsTheEncipheredWindow()
    {
        var task = new CipherTranslation(Text, length: 24, maskRate: 0.5);
        var (source, input, target) = task.SampleBatch(64, new torch.Generator(5));
        Assert.Equal([64L, 24L], source.shape);
        Assert.Equal([64L, 25L], target.shape);
        int hiddenWords = 0, words = 0;
        for (var b = 0; b < 64; b++)
        {
            var src = Row(source, b);
            var tgt = Row(target, b);
            Assert.Equal(CipherTranslation.Eos, tgt[^1]);
            Assert.Equal(new[] { CipherTranslation.Bos }.Concat(tgt[..^1]), Row(input, b));
            for (var i = 0; i < 24; i++)
            {
                var letter = char.IsAsciiLetter(Text.Vocabulary[tgt[i] - 3]);
                var hidden = src[i] == task.MaskId;
                Assert.True(letter || !hidden, "only letters are hidden");
                if (letter && (i == 0 || !char.IsAsciiLetter(Text.Vocabulary[tgt[i - 1] - 3])))
                {
                    words++;
                    hiddenWords += hidden ? 1 : 0;
                }
                else if (letter && i > 0)
                    Assert.Equal(src[i - 1] == task.MaskId, hidden);        // a word is hidden whole
            }
        }
        // Binomial(words, 0.5): the share lies within ±4 standard errors.
        Assert.InRange(hiddenWords / (double)words, 0.5 - 4 * Math.Sqrt(0.25 / words), 0.5 + 4 * Math.Sqrt(0.25 / words));
    }

    [Fact]
    public void VisibleCharacters_AreTheEncipheredSource()
    {
        var task = new CipherTranslation(Text, length: 24, maskRate: 0.3);
        var (source, _, target) = task.SampleBatch(16, new torch.Generator(9));
        for (var b = 0; b < 16; b++)
        {
            var src = Row(source, b);
            var tgt = Row(target, b);
            for (var i = 0; i < 24; i++)
                if (src[i] != task.MaskId)
                    Assert.Equal(task.Encipher(Text.Vocabulary[src[i] - 3].ToString()), Text.Vocabulary[tgt[i] - 3].ToString());
        }
    }

    [Fact]
    public void Validation_IsFixed_AndTheCopyAndFillReferenceGrowsWithTheMaskRate()
    {
        var task = new CipherTranslation(Text, length: 24, maskRate: 0.3, validationWindows: 10);
        var first = task.ValidationBatches(4, 1).Select(b => Row(b.Source, 0)).ToList();
        var second = task.ValidationBatches(4, 99).Select(b => Row(b.Source, 0)).ToList();
        Assert.Equal(first, second);
        Assert.Equal(3, first.Count);                                   // 10 windows in batches of 4, 4, 2
        var (src, tgt) = task.Example(0);
        Assert.Equal(new string(first[0].Select(id => id == task.MaskId ? '_' : Text.Vocabulary[id - 3]).ToArray()), src);
        Assert.Equal(24, tgt.Length);
        var unigram = new NGramModel(Text.Train, Text.VocabularySize, 1);
        Assert.Equal(0, new CipherTranslation(Text, length: 24, maskRate: 0).CopyAndFillLoss(unigram));
        var low = task.CopyAndFillLoss(unigram);
        Assert.True(low > 0 && new CipherTranslation(Text, length: 24, maskRate: 0.8).CopyAndFillLoss(unigram) > low);
        Assert.True(task.CopyAndFillLoss(new NGramModel(Text.Train, Text.VocabularySize, 3)) < low, "a trigram fills better than a unigram");
    }

    [Fact]
    public void BadSettings_AreRefused_NamingTheParameter()
    {
        Assert.Equal("maskRate", Assert.Throws<ArgumentOutOfRangeException>(() => new CipherTranslation(Text, maskRate: 1)).ParamName);
        Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => new CipherTranslation(Text, length: 1)).ParamName);
        Assert.Contains("need longer streams", Assert.Throws<ArgumentException>(() => new CipherTranslation(Text, length: 100_000)).Message);
    }
}
