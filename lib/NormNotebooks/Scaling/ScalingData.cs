// SPDX-License-Identifier: MIT
using System.Globalization;

namespace NormNotebooks.Scaling;

/// <summary>
/// Runs to fit a law to: one row per run, the law's input variables (e.g. N, D) and the observed value (loss),
/// optionally a group per row (the run a checkpoint came from, for a cluster bootstrap) and where each row came
/// from (for error messages).
/// </summary>
public sealed class ScalingData
{
    /// <summary>Creates a table; <paramref name="x"/> holds one array of inputs per row.</summary>
    public ScalingData(IReadOnlyList<string> variables, IReadOnlyList<double[]> x, IReadOnlyList<double> y,
        IReadOnlyList<string>? groups = null, IReadOnlyList<string>? rowNames = null, string source = "data")
    {
        if (x.Count != y.Count)
            throw new ArgumentException($"{source}: {x.Count} input rows but {y.Count} observed values.", nameof(y));
        if (groups is not null && groups.Count != y.Count)
            throw new ArgumentException($"{source}: {groups.Count} groups for {y.Count} rows.", nameof(groups));
        (Variables, X, Y, Groups, Source) = (variables, x, y, groups, source);
        RowNames = rowNames ?? Enumerable.Range(1, y.Count).Select(i => $"row {i}").ToList();
    }

    /// <summary>Input names, in the order of each row's array.</summary>
    public IReadOnlyList<string> Variables { get; }

    /// <summary>Inputs per row.</summary>
    public IReadOnlyList<double[]> X { get; }

    /// <summary>Observed values per row (losses).</summary>
    public IReadOnlyList<double> Y { get; }

    /// <summary>Cluster per row, or null when rows are independent runs.</summary>
    public IReadOnlyList<string>? Groups { get; }

    /// <summary>Names of the rows in messages ("row 3", "runs.csv line 4").</summary>
    public IReadOnlyList<string> RowNames { get; }

    /// <summary>Where the table came from.</summary>
    public string Source { get; }

    /// <summary>Number of rows.</summary>
    public int Count => Y.Count;

    /// <summary>The rows at <paramref name="indices"/>.</summary>
    public ScalingData Subset(IReadOnlyList<int> indices) =>
        new(Variables, indices.Select(i => X[i]).ToList(), indices.Select(i => Y[i]).ToList(),
            Groups is null ? null : indices.Select(i => Groups[i]).ToList(), indices.Select(i => RowNames[i]).ToList(), Source);

    /// <summary>Checks the table can be fitted with <paramref name="law"/>; the message names the offending row.</summary>
    /// <exception cref="ArgumentException">Wrong columns, non-positive or non-finite values, too few rows, or a variable with one value.</exception>
    public void Validate(ScalingLaw law)
    {
        if (!Variables.SequenceEqual(law.Variables))
            throw new ArgumentException($"{Source}: the {law.Name} law takes ({string.Join(", ", law.Variables)}) but the data has ({string.Join(", ", Variables)}).");
        for (var i = 0; i < Count; i++)
        {
            if (X[i].Length != Variables.Count)
                throw new ArgumentException($"{Source}, {RowNames[i]}: {X[i].Length} inputs; expected {Variables.Count}.");
            for (var j = 0; j < Variables.Count; j++)
            {
                if (!double.IsFinite(X[i][j]) || X[i][j] <= 0)
                    throw new ArgumentException($"{Source}, {RowNames[i]}: {Variables[j]} = {X[i][j].ToString(CultureInfo.InvariantCulture)}; sizes must be positive and finite.");
            }
            if (!double.IsFinite(Y[i]) || Y[i] <= 0)
                throw new ArgumentException($"{Source}, {RowNames[i]}: the observed value is {Y[i].ToString(CultureInfo.InvariantCulture)}; losses must be positive and finite (they are fitted in log space).");
        }
        var parameters = law.ParameterNames.Count;
        if (Count < parameters)
            throw new ArgumentException($"{Source}: {Count} rows cannot determine the {parameters} parameters of the {law.Name} law.");
        for (var j = 0; j < Variables.Count; j++)
        {
            if (X.Select(row => row[j]).Distinct().Count() < 2)
                throw new ArgumentException($"{Source}: every row has the same {Variables[j]}; its exponent cannot be identified.");
        }
    }

    /// <summary>
    /// Reads a CSV file (RFC 4180: quoted fields may hold commas, line breaks and doubled quotes; CRLF, LF or CR line ends;
    /// a byte-order mark is dropped; blank lines are skipped) with a header row. <paramref name="columns"/> maps each law
    /// variable and "L" (the observed value) to a header name; an optional "group" entry names a cluster column. Rows are
    /// named by the line they start on. Errors name the file, line and column.
    /// </summary>
    /// <exception cref="ArgumentException">The file is empty, a mapped column is missing, a record is malformed or ragged, or a cell is not a number.</exception>
    public static ScalingData FromCsv(string path, IReadOnlyList<string> variables, IReadOnlyDictionary<string, string> columns)
    {
        var records = Csv.ReadFile(path);
        if (records.Count == 0)
            throw new ArgumentException($"{path}: the file is empty; expected a header row and data rows.");
        var header = records[0].Fields.Select(h => h.Trim()).ToList();
        int Column(string role)
        {
            var name = columns.TryGetValue(role, out var mapped) ? mapped : role;
            var index = header.FindIndex(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
            if (index < 0)
                throw new ArgumentException($"{path}: no column '{name}' for {role} in the header ({string.Join(", ", header)}). Map it with --columns {role}=NAME.");
            return index;
        }
        var inputColumns = variables.Select(Column).ToArray();
        var target = Column("L");
        var group = columns.ContainsKey("group") ? Column("group") : -1;

        var x = new List<double[]>();
        var y = new List<double>();
        var groups = group >= 0 ? new List<string>() : null;
        var names = new List<string>();
        foreach (var record in records.Skip(1))
        {
            double Cell(int index)
            {
                var text = record.Fields[index].Trim();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    throw new ArgumentException($"{path}, line {record.Line}, column '{header[index]}': '{text}' is not a number.");
                return value;
            }
            x.Add(inputColumns.Select(Cell).ToArray());
            y.Add(Cell(target));
            groups?.Add(record.Fields[group].Trim());
            names.Add($"line {record.Line}");
        }
        if (y.Count == 0)
            throw new ArgumentException($"{path}: no data rows under the header.");
        return new ScalingData(variables, x, y, groups, names, path);
    }
}
