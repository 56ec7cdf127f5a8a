// SPDX-License-Identifier: MIT
using System.Text;

namespace NormNotebooks.Scaling;

/// <summary>A CSV record: its fields and the line it starts on (1-based, as editors count; CRLF, LF and CR each end a line).</summary>
internal sealed record CsvRecord(IReadOnlyList<string> Fields, int Line);

/// <summary>
/// An RFC 4180 reader: records end at CRLF, LF or CR; fields are separated by commas; a field in double quotes may hold
/// commas, line breaks (kept as written) and doubled quotes (""). A byte-order mark is dropped, a final line break ends
/// the last record, lines holding only spaces or tabs are skipped, and every record must have as many fields as the first (the
/// header). Beyond RFC 4180, spaces and tabs around a quoted field are dropped, as spreadsheets write them. Errors name
/// the source, line and column (1-based, in characters).
/// </summary>
internal sealed class Csv
{
    private readonly string _text;
    private readonly string _source;
    private readonly StringBuilder _field = new();
    private int _position;
    private int _line = 1;
    private int _lineStart;

    private Csv(string text, string source)
    {
        (_text, _source) = (text, source);
        _position = _lineStart = text.StartsWith('\uFEFF') ? 1 : 0;   // the mark is no column
    }

    /// <summary>Reads the records of the file at <paramref name="path"/>, the header first.</summary>
    /// <exception cref="ArgumentException">An unterminated quote, text after a closing quote, a quote inside an unquoted field, or a ragged record.</exception>
    public static IReadOnlyList<CsvRecord> ReadFile(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Parses <paramref name="text"/>; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="ArgumentException">As for <see cref="ReadFile"/>.</exception>
    public static IReadOnlyList<CsvRecord> Parse(string text, string source)
    {
        var reader = new Csv(text, source);
        var records = new List<CsvRecord>();
        while (!reader.AtEnd)
        {
            var header = records.Count > 0 ? records[0] : null;
            if (reader.Record(header) is { } record)
                records.Add(record);
        }
        return records;
    }

    private bool AtEnd => _position == _text.Length;

    private char Current => _text[_position];

    private int Column => _position - _lineStart + 1;

    /// <summary>The next record, or null for a blank line; fields beyond or short of the header's count are errors.</summary>
    private CsvRecord? Record(CsvRecord? header)
    {
        var (fields, line, quoted) = (new List<string>(), _line, false);
        while (true)
        {
            var (fieldLine, fieldColumn) = (_line, Column);
            quoted |= Field();
            if (header is not null && fields.Count == header.Fields.Count)
                throw Error(fieldLine, fieldColumn, $"field {fields.Count + 1}, but the header (line {header.Line}) has {Describe(header)}");
            fields.Add(_field.ToString());
            _field.Clear();
            if (AtEnd || Current != ',')
                break;
            _position++;
        }
        var (endLine, endColumn) = (_line, Column);
        if (!AtEnd)
            _position += Current == '\r' && _position + 1 < _text.Length && _text[_position + 1] == '\n' ? 2 : 1;
        (_line, _lineStart) = (_line + 1, _position);
        if (fields.Count == 1 && !quoted && string.IsNullOrWhiteSpace(fields[0]))
            return null;
        if (header is not null && fields.Count < header.Fields.Count)
            throw Error(endLine, endColumn, $"the record ends after {fields.Count} field{(fields.Count == 1 ? "" : "s")}, but the header (line {header.Line}) has {Describe(header)}");
        return new CsvRecord(fields, line);
    }

    /// <summary>Reads one field into the buffer, stopping at a comma, a line end or the end; true when it was quoted.</summary>
    private bool Field()
    {
        var start = _position;
        SkipBlanks();
        if (AtEnd || Current != '"')
        {
            for (_position = start; !AtEnd && Current is not (',' or '\r' or '\n'); _position++)
            {
                if (Current == '"')
                    throw Error(_line, Column, "a quote inside an unquoted field; quote the whole field and double the quote (\"\")");
                _field.Append(Current);
            }
            return false;
        }
        var (openLine, openColumn) = (_line, Column);
        for (_position++; ; _position++)
        {
            if (AtEnd)
                throw Error(openLine, openColumn, "the quoted field opened here is never closed (a \" is missing)");
            if (Current == '"' && _position + 1 < _text.Length && _text[_position + 1] == '"')
                _position++;
            else if (Current == '"')
                break;
            else if (Current == '\n' || (Current == '\r' && (_position + 1 == _text.Length || _text[_position + 1] != '\n')))
                (_line, _lineStart) = (_line + 1, _position + 1);   // a line break inside the field: LF, or a CR on its own
            _field.Append(Current);
        }
        _position++;
        SkipBlanks();
        if (!AtEnd && Current is not (',' or '\r' or '\n'))
            throw Error(_line, Column, $"'{Current}' after the closing quote of a field; a field is either wholly quoted or not at all");
        return true;
    }

    private void SkipBlanks()
    {
        while (!AtEnd && Current is ' ' or '\t')
            _position++;
    }

    private static string Describe(CsvRecord header) => $"{header.Fields.Count} ({string.Join(", ", header.Fields.Select(f => f.Trim()))})";

    private ArgumentException Error(int line, int column, string message) => new($"{_source}, line {line}, column {column}: {message}.");
}
