// SPDX-License-Identifier: MIT
using System.Text;
using NormNotebooks.Scaling;

namespace NormNotebooks.Tests.Scaling;

public sealed class ScalingDataTests
{
    private static ScalingData Rows(params (double N, double D, double L)[] rows) =>
        new(["N", "D"], rows.Select(r => new[] { r.N, r.D }).ToList(), rows.Select(r => r.L).ToList());

    private static readonly (double, double, double)[] Good =
        [(1e6, 1e8, 3.1), (2e6, 2e8, 2.9), (4e6, 1e8, 2.8), (8e6, 4e8, 2.6), (1.6e7, 2e8, 2.5), (3.2e7, 8e8, 2.4)];

    [Theory]
    [InlineData(0.0, 1e8, 3.0, "row 3: N = 0; sizes must be positive")]
    [InlineData(1e6, -5.0, 3.0, "row 3: D = -5")]
    [InlineData(1e6, 1e8, 0.0, "row 3: the observed value is 0; losses must be positive")]
    [InlineData(1e6, 1e8, double.NaN, "row 3: the observed value is NaN")]
    [InlineData(double.PositiveInfinity, 1e8, 3.0, "row 3: N = Infinity")]
    public void Validate_NamesTheOffendingRow(double n, double d, double l, string message)
    {
        var rows = Good.ToArray();
        rows[2] = (n, d, l);
        var error = Assert.Throws<ArgumentException>(() => Rows(rows).Validate(new ChinchillaLaw()));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Validate_RejectsTooFewRows_AndAConstantVariable()
    {
        Assert.Contains("4 rows cannot determine the 5 parameters",
            Assert.Throws<ArgumentException>(() => Rows(Good[..4]).Validate(new ChinchillaLaw())).Message);
        var constant = Good.Select(r => (1e6, r.Item2, r.Item3)).ToArray();
        Assert.Contains("every row has the same N",
            Assert.Throws<ArgumentException>(() => Rows(constant).Validate(new ChinchillaLaw())).Message);
        Assert.Contains("takes (x) but the data has (N, D)",
            Assert.Throws<ArgumentException>(() => Rows(Good).Validate(new SaturatingPowerLaw())).Message);
    }

    [Fact]
    public void FromCsv_MapsColumns_AndReportsBadCellsByLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "params,tokens,loss,run\n1e6,1e8,3.1,a\n\"2e6\",2e8,2.9,a\n4e6,1e8,2.8,b\n");
            var data = ScalingData.FromCsv(path, ["N", "D"], new Dictionary<string, string> { ["N"] = "params", ["D"] = "tokens", ["L"] = "loss", ["group"] = "run" });
            Assert.Equal(3, data.Count);
            Assert.Equal([2e6, 2e8], data.X[1]);
            Assert.Equal(["a", "a", "b"], data.Groups!);
            Assert.Equal("line 3", data.RowNames[1]);

            File.WriteAllText(path, "N,D,L\n1e6,1e8,3.1\n2e6,oops,2.9\n");
            var error = Assert.Throws<ArgumentException>(() => ScalingData.FromCsv(path, ["N", "D"], new Dictionary<string, string>()));
            Assert.Contains($"{path}, line 3, column 'D': 'oops' is not a number", error.Message);

            Assert.Contains("no column 'params' for N",
                Assert.Throws<ArgumentException>(() => ScalingData.FromCsv(path, ["N", "D"], new Dictionary<string, string> { ["N"] = "params" })).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromCsv_ReadsAFileWrittenWithCrLfAndABom_WithQuotedCommasQuotesAndLineBreaks()
    {
        var path = Path.GetTempFileName();
        try
        {
            const string text = "\"params\",tokens,\"loss, nats\",run\r\n1e6,1e8,3.1,\"a, first\"\r\n\r\n2e6,\"2e8\",2.9,\"b\r\nsecond\"\r\n4e6,1e8,2.8,\"c \"\"third\"\"\"\r\n";
            File.WriteAllText(path, text, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
            Assert.Equal([0xEF, 0xBB, 0xBF], File.ReadAllBytes(path)[..3]);
            var columns = new Dictionary<string, string> { ["N"] = "params", ["D"] = "tokens", ["L"] = "loss, nats", ["group"] = "run" };
            var data = ScalingData.FromCsv(path, ["N", "D"], columns);
            Assert.Equal([1e6, 1e8, 2e6, 2e8, 4e6, 1e8], data.X.SelectMany(row => row));
            Assert.Equal([3.1, 2.9, 2.8], data.Y);
            Assert.Equal(["a, first", "b\r\nsecond", "c \"third\""], data.Groups!);
            Assert.Equal(["line 2", "line 4", "line 6"], data.RowNames);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FromCsv_RaggedRowsAndOpenQuotes_AreNamedByFileLineAndColumn()
    {
        var path = Path.GetTempFileName();
        try
        {
            var empty = new Dictionary<string, string>();
            File.WriteAllText(path, "N,D,L\n1e6,1e8\n");
            Assert.Contains($"{path}, line 2, column 8: the record ends after 2 fields, but the header (line 1) has 3 (N, D, L)",
                Assert.Throws<ArgumentException>(() => ScalingData.FromCsv(path, ["N", "D"], empty)).Message);
            File.WriteAllText(path, "N,D,L\n1e6,1e8,\"3.1\n");
            Assert.Contains($"{path}, line 2, column 9: the quoted field opened here is never closed",
                Assert.Throws<ArgumentException>(() => ScalingData.FromCsv(path, ["N", "D"], empty)).Message);
            File.WriteAllText(path, "\uFEFF\r\n");
            Assert.Contains($"{path}: the file is empty", Assert.Throws<ArgumentException>(() => ScalingData.FromCsv(path, ["N", "D"], empty)).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
