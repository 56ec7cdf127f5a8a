// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text;

namespace NormNotebooks.Runner;

/// <summary>Thrown into a cell that writes more text than the per-cell cap allows.</summary>
public sealed class OutputLimitExceededException(string message) : IOException(message);

/// <summary>
/// Collects what a cell writes to <c>Console.Out</c> and <c>Console.Error</c> and forwards it as stream chunks,
/// in true order with displays (the host flushes before every display). Text beyond the per-cell cap is dropped
/// with a note and the write throws <see cref="OutputLimitExceededException"/>, so a runaway loop stops.
/// </summary>
internal sealed class CellOutput
{
    private readonly Lock _gate = new();
    private readonly Action<string, string> _emit;
    private readonly StringBuilder _pending = new();
    private string _pendingStream = "stdout";
    private long _written;
    private long _cap;
    private int _cell;

    public CellOutput(Action<string, string> emit)
    {
        _emit = emit;
        Out = new StreamWriter(this, "stdout");
        Error = new StreamWriter(this, "stderr");
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>Starts counting for a new cell.</summary>
    public void Reset(int cell, long cap)
    {
        lock (_gate)
        {
            Flush();
            (_cell, _cap, _written) = (cell, cap, 0);
        }
    }

    /// <summary>Sends buffered text now.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            if (_pending.Length == 0)
                return;
            var text = _pending.ToString();
            _pending.Clear();
            _emit(_pendingStream, text);
        }
    }

    private void Append(string stream, string text)
    {
        lock (_gate)
        {
            if (_written > _cap)
                throw Limit(stream);
            if (stream != _pendingStream)
            {
                Flush();
                _pendingStream = stream;
            }
            var room = _cap - _written;
            _written += text.Length;
            if (text.Length > room)
            {
                _pending.Append(text.AsSpan(0, (int)room));
                _pending.Append(CultureInfo.InvariantCulture, $"\n[normnb: output truncated: cell {_cell} wrote more than {_cap:N0} characters to stdout/stderr]\n");
                Flush();
                throw Limit(stream);
            }
            _pending.Append(text);
            if (_pending.Length >= 8192 || text.Contains('\n'))
                Flush();
        }
    }

    private OutputLimitExceededException Limit(string stream) =>
        new($"Cell {_cell} wrote more than {_cap:N0} characters to {stream}; output is capped per cell (--max-output). The rest was not recorded.");

    private sealed class StreamWriter(CellOutput owner, string stream) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => owner.Append(stream, value.ToString());

        public override void Write(string? value)
        {
            if (!string.IsNullOrEmpty(value))
                owner.Append(stream, value);
        }

        public override void Write(char[] buffer, int index, int count) => owner.Append(stream, new string(buffer, index, count));

        public override void WriteLine(string? value) => owner.Append(stream, (value ?? "") + "\n");

        public override void Flush() => owner.Flush();
    }
}
