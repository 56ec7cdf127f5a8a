// SPDX-License-Identifier: MIT
using NormNotebooks.Scaling;

namespace NormNotebooks.Tests.Scaling;

/// <summary>The RFC 4180 reader behind <see cref="ScalingData.FromCsv"/>.</summary>
public sealed class CsvTests
{
    private static string[][] Fields(IReadOnlyList<CsvRecord> records) => records.Select(r => r.Fields.ToArray()).ToArray();

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public void LineEnds_CrLfLfAndCr_EachEndARecord_AndATrailingOneAddsNone(string end)
    {
        var records = Csv.Parse($"N,D,L{end}1e6,1e8,3.1{end}2e6,2e8,2.9{end}", "t.csv");
        Assert.Equal([["N", "D", "L"], ["1e6", "1e8", "3.1"], ["2e6", "2e8", "2.9"]], Fields(records));
        Assert.Equal([1, 2, 3], records.Select(r => r.Line));
        Assert.Equal(Fields(records), Fields(Csv.Parse($"N,D,L{end}1e6,1e8,3.1{end}2e6,2e8,2.9", "t.csv")));
    }

    [Fact]
    public void QuotedFields_HoldCommasDoubledQuotesAndLineBreaks_AndLaterLinesAreCountedPastThem()
    {
        var records = Csv.Parse("run,note,L\r\n\"a,b\",\"say \"\"hi\"\"\",3.1\r\nc,\"two\r\nlines\nand three\",2.9\r\nd,,2.8\r\n", "t.csv");
        Assert.Equal([["run", "note", "L"], ["a,b", "say \"hi\"", "3.1"], ["c", "two\r\nlines\nand three", "2.9"], ["d", "", "2.8"]], Fields(records));
        Assert.Equal([1, 2, 3, 6], records.Select(r => r.Line));
    }

    [Fact]
    public void ByteOrderMark_IsDropped_AndBlankLinesAreSkipped()
    {
        var records = Csv.Parse("\uFEFFN,L\n\n1,2\r\n   \r\n\t\n3,4\n\n", "t.csv");
        Assert.Equal([["N", "L"], ["1", "2"], ["3", "4"]], Fields(records));
        Assert.Equal([1, 3, 6], records.Select(r => r.Line));
        Assert.Empty(Csv.Parse("", "t.csv"));
        Assert.Empty(Csv.Parse("\uFEFF\r\n", "t.csv"));
        Assert.Equal([["N", ""], ["", ""]], Fields(Csv.Parse("N,\n\"\",\n", "t.csv")));   // a quoted empty field is not a blank line
    }

    [Fact]
    public void SpacesAroundAQuotedField_AreDropped_AndKeptInAnUnquotedOne()
    {
        Assert.Equal([["N", "L"], ["1,5", " 2 "]], Fields(Csv.Parse("N,L\n  \"1,5\"\t, 2 \n", "t.csv")));
    }

    [Theory]
    [InlineData("N,D,L\n1,2,3\n4,5,6,7\n", "t.csv, line 3, column 7: field 4, but the header (line 1) has 3 (N, D, L).")]
    [InlineData("N,D,L\n1,2,3\n4,5\n", "t.csv, line 3, column 4: the record ends after 2 fields, but the header (line 1) has 3 (N, D, L).")]
    [InlineData("N,D,L\r\n1,\"2\r\n\",3\r\n4\r\n", "t.csv, line 4, column 2: the record ends after 1 field, but the header (line 1) has 3 (N, D, L).")]
    [InlineData("N,D,L\n1,2,3\n4,\"5,6\n7,8,9\n", "t.csv, line 3, column 3: the quoted field opened here is never closed (a \" is missing).")]
    [InlineData("N,D\n1,\"2\"x\n", "t.csv, line 2, column 6: 'x' after the closing quote of a field; a field is either wholly quoted or not at all.")]
    [InlineData("N,D\n1,2\"\n", "t.csv, line 2, column 4: a quote inside an unquoted field; quote the whole field and double the quote (\"\").")]
    [InlineData("\uFEFFN,D\"\n", "t.csv, line 1, column 4: a quote inside an unquoted field; quote the whole field and double the quote (\"\").")]
    public void MalformedRecords_AreNamedByFileLineAndColumn(string text, string message)
    {
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => Csv.Parse(text, "t.csv")).Message);
    }
}
