// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Tests.Support;

namespace NormNotebooks.Tests.Data;

[Trait("Category", "Data")]
public sealed class BrownCorpusTests
{
    private static readonly Lazy<IReadOnlyList<BrownDocument>> Documents = new(() => TestData.Brown);

    [Fact]
    public void Load_ReadsFiveHundredDocumentsInFifteenGenres()
    {
        var documents = Documents.Value;
        Assert.Equal(500, documents.Count);
        Assert.Equal("ca01", documents[0].Id);
        Assert.Equal("news", documents[0].Genre);
        Assert.Equal("cr09", documents[^1].Id);
        Assert.Equal(15, documents.Select(d => d.Genre).Distinct().Count());
        Assert.StartsWith("The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced \"no evidence\" that any irregularities took place.\n",
            documents[0].Text);
        // No tag survives: tags are lower-case letters after a slash, e.g. "/nn", "/at".
        Assert.DoesNotContain(documents, d => d.Text.Contains("/nn") || d.Text.Contains("/at "));
    }

    [Theory]
    [InlineData("\tHe/pps said/vbd ,/, ``/`` yes/rb ''/'' ./.\n", "He said, \"yes\".\n")]
    [InlineData("\tprices/nns (/( 1-1/2/cd %/nn )/) rose/vbd\n", "prices (1-1/2 %) rose\n")]
    [InlineData("\n\n\tOne/cd ./.\n\n\tTwo/cd !/.\n", "One.\nTwo!\n")]
    public void StripTags_KeepsWordsAndGluesPunctuation(string tagged, string expected) =>
        Assert.Equal(expected, BrownCorpus.StripTags(tagged));

    [Fact]
    public void Load_RejectsATarballWithTheWrongIntegrity()
    {
        var folder = Directory.CreateTempSubdirectory("normnb-brown-");
        try
        {
            _ = Documents.Value;
            var copy = Path.Combine(folder.FullName, BrownCorpus.TarballName);
            var bytes = File.ReadAllBytes(BrownCorpus.Locate()!);
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(copy, bytes);
            var error = Assert.Throws<InvalidDataException>(() => BrownCorpus.Load(folder.FullName));
            Assert.Contains(copy, error.Message);
            Assert.Contains("integrity", error.Message);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
