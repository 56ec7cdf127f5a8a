// SPDX-License-Identifier: MIT
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Runtime;

namespace NormNotebooks.Training;

/// <summary>One grid point of a sweep: a model (a character Transformer, or an encoder-decoder for a translation sweep), its training
/// run, the seed its weights start from, and free-form numeric tags the analysis groups by (e.g. "budget" for an IsoFLOP slice).</summary>
/// <param name="Name">Unique, file-name-safe name (letters, digits, '-', '_', '.', '='); the result is saved as NAME.json.</param>
/// <param name="Model">The character Transformer (data set "brown"); null for a translation point.</param>
/// <param name="Training">The run. For a translation point, <see cref="TrainingConfig.Context"/> is the target tokens per pair
/// (the task's Length + 1).</param>
/// <param name="InitSeed">Seed set (<see cref="Compute.Seed"/>) before the model is built.</param>
/// <param name="Tags">Numbers the analysis reads back (sizes, budgets, roles).</param>
/// <param name="Translation">The encoder-decoder (data set "brown-translation"); null for a character point.</param>
public sealed record SweepPoint(string Name, TransformerConfig? Model, TrainingConfig Training, long InitSeed = 0,
    IReadOnlyDictionary<string, double>? Tags = null, Seq2SeqConfig? Translation = null)
{
    /// <summary>Tokens the run trains on: steps × batch × context (target tokens for a translation point).</summary>
    [JsonIgnore]
    public double Tokens => (double)Training.Steps * Training.BatchSize * Training.Context;

    /// <summary>A tag by name.</summary>
    /// <exception cref="KeyNotFoundException">The point has no such tag (the message lists those it has).</exception>
    public double Tag(string name) => Tags is not null && Tags.TryGetValue(name, out var value)
        ? value
        : throw new KeyNotFoundException($"Sweep point '{Name}' has no tag '{name}'; it has: {string.Join(", ", Tags?.Keys ?? [])}.");
}

/// <summary>
/// A sweep: a named list of grid points on one data set. The grid is the unit a batch scheduler fans out — each point is trained by
/// one call, <c>Sweep.RunPoint</c> (<c>normnb sweep run --grid GRID --index I</c>), which writes one JSON result, so a Slurm array
/// or a Kubernetes Indexed Job runs the points on as many machines as it likes, and <see cref="Sweep.Load"/> merges the folder.
/// </summary>
/// <param name="Name">The sweep's name.</param>
/// <param name="Dataset">The data set every point trains on: "brown" (the Brown corpus, characters; points with a
/// <see cref="SweepPoint.Model"/>) or "brown-translation" (<see cref="CipherTranslation"/> on the Brown corpus; points with a
/// <see cref="SweepPoint.Translation"/>).</param>
/// <param name="Points">The grid points, in index order.</param>
public sealed record SweepGrid(string Name, string Dataset, IReadOnlyList<SweepPoint> Points)
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The data sets <see cref="Dataset"/> may name.</summary>
    public static IReadOnlyList<string> Datasets { get; } = ["brown", "brown-translation"];

    /// <summary>Whether the points are encoder-decoders on the translation task.</summary>
    [JsonIgnore]
    public bool IsTranslation => Dataset == "brown-translation";

    /// <summary>Checks names (unique, file-name safe) and the data set; the message names the point.</summary>
    /// <exception cref="ArgumentException">A bad grid.</exception>
    public void Validate(string source = "grid")
    {
        if (!Datasets.Contains(Dataset))
            throw new ArgumentException($"{source}: data set '{Dataset}' is not one of {string.Join(", ", Datasets)}.");
        if (Points is null || Points.Count == 0)
            throw new ArgumentException($"{source}: the grid has no points.");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Points.Count; i++)
        {
            var p = Points[i] ?? throw new ArgumentException($"{source}: point {i} is null.");
            if (p.Training is null || (IsTranslation ? p.Translation is null : p.Model is null))
                throw new ArgumentException($"{source}: point {i} ('{p.Name}') lacks its {(p.Training is null ? "training" : IsTranslation ? "Translation model" : "Model")} configuration.");
            if (IsTranslation ? p.Model is not null : p.Translation is not null)
                throw new ArgumentException($"{source}: point {i} ('{p.Name}') has a {(IsTranslation ? "character Model" : "Translation model")}, which the data set '{Dataset}' does not train.");
            if (string.IsNullOrEmpty(p.Name) || p.Name.StartsWith('.') || p.Name.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or '=')))
                throw new ArgumentException($"{source}: point {i}'s name '{p.Name}' is not file-name safe (letters, digits, '-', '_', '.', '=').");
            if (!seen.Add(p.Name))
                throw new ArgumentException($"{source}: point name '{p.Name}' is used twice (the second at index {i}).");
            var context = IsTranslation ? p.Translation!.Context : p.Model!.Context;
            if (p.Training.Context > context)
                throw new ArgumentException($"{source}: point {i} ('{p.Name}') trains at context {p.Training.Context}, beyond the model's {context}.");
        }
    }

    /// <summary>The grid as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Writes the grid to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    public void Save(string path)
    {
        Validate(path);
        Sweep.WriteAtomically(path, ToJson());
    }

    /// <summary>Reads and validates a grid file.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not a grid (the message names the file).</exception>
    public static SweepGrid Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Sweep grid {path} does not exist.", path);
        SweepGrid? grid;
        try
        {
            grid = JsonSerializer.Deserialize<SweepGrid>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Sweep grid {path} is not a grid ({e.Message}).", e);
        }
        if (grid is null)
            throw new InvalidDataException($"Sweep grid {path} is empty.");
        try
        {
            grid.Validate(path);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        return grid;
    }
}

/// <summary>One trained grid point, as saved: its index and point (so a stale result is recognised), the model's size, and the run,
/// whose per-step records are thinned to the evaluation steps and about a hundred others.</summary>
/// <param name="Index">The point's index in the grid.</param>
/// <param name="Point">The point as trained.</param>
/// <param name="Parameters">Trainable parameters, embeddings included (Hoffmann's N).</param>
/// <param name="NonEmbeddingParameters">Parameters outside the token and position embeddings (Kaplan's N); for a translation
/// point N_e + N_d (the output head excluded too).</param>
/// <param name="Result">The run.</param>
/// <param name="EncoderParameters">Translation: N_e, the encoder blocks and the encoder's final norm (embeddings excluded).</param>
/// <param name="DecoderParameters">Translation: N_d, the decoder blocks and the decoder's final norm (embeddings and the output head excluded).</param>
public sealed record SweepRecord(int Index, SweepPoint Point, long Parameters, long NonEmbeddingParameters, TrainingResult Result,
    long? EncoderParameters = null, long? DecoderParameters = null)
{
    /// <summary>Tokens trained on.</summary>
    [JsonIgnore]
    public double Tokens => Point.Tokens;

    /// <summary>Training compute C ≈ 6·N·D with N all parameters (Hoffmann et al.'s approximation).</summary>
    [JsonIgnore]
    public double Flops => 6.0 * Parameters * Tokens;

    /// <summary>The final validation loss (NaN for a run that failed).</summary>
    [JsonIgnore]
    public double Loss => Result.Diverged ? double.NaN : Result.FinalValidationLoss ?? double.NaN;

    /// <summary>The validation curve: (tokens seen, validation loss) at every evaluation.</summary>
    [JsonIgnore]
    public IReadOnlyList<(double Tokens, double Loss)> Curve =>
        Result.Steps.Where(s => s.ValidationLoss is not null)
            .Select(s => ((double)(s.Step + 1) * Point.Training.BatchSize * Point.Training.Context, s.ValidationLoss!.Value)).ToList();
}

/// <summary>The results folder of a sweep, merged: the records found, in index order, and the indices still missing.</summary>
public sealed record SweepResults(SweepGrid Grid, string Folder, IReadOnlyList<SweepRecord> Records, IReadOnlyList<int> Missing)
{
    /// <summary>Whether every point has a result.</summary>
    public bool Complete => Missing.Count == 0;

    /// <summary>The record of the point called <paramref name="name"/>.</summary>
    public SweepRecord this[string name] => Records.FirstOrDefault(r => r.Point.Name == name)
        ?? throw new KeyNotFoundException($"{Folder}: no result for point '{name}'.");

    /// <summary>One CSV row per record (index, name, tags, sizes, tokens, FLOPs, final loss, wall time), for <c>normnb fit</c>.</summary>
    public string ToCsv()
    {
        var tags = Grid.Points.SelectMany(p => p.Tags?.Keys ?? []).Distinct().Order(StringComparer.Ordinal).ToList();
        var csv = new StringBuilder("index,name,");
        foreach (var tag in tags)
            csv.Append(tag).Append(',');
        csv.Append("params,nonEmbeddingParams,encoderParams,decoderParams,tokens,flops,loss,diverged,wallSeconds\n");
        foreach (var r in Records)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{r.Index},{r.Point.Name},");
            foreach (var tag in tags)
                csv.Append(r.Point.Tags is not null && r.Point.Tags.TryGetValue(tag, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : "").Append(',');
            csv.Append(CultureInfo.InvariantCulture,
                $"{r.Parameters},{r.NonEmbeddingParameters},{r.EncoderParameters},{r.DecoderParameters},{r.Tokens:R},{r.Flops:R},{r.Loss:R},{(r.Result.Diverged ? 1 : 0)},{r.Result.WallSeconds:F1}\n");
        }
        return csv.ToString();
    }
}

/// <summary>Runs and merges sweeps (<see cref="SweepGrid"/>): one grid point per call, one JSON per point.</summary>
public static class Sweep
{
    // Results are written on one line (a sweep commits dozens of them); grids stay indented for reading.
    private static readonly JsonSerializerOptions Compact = new(SweepGrid.Json) { WriteIndented = false };

    /// <summary>Environment variables a batch scheduler sets to a task's index, in the order read: Slurm job arrays, Kubernetes
    /// Indexed Jobs, and our own.</summary>
    public static IReadOnlyList<string> IndexVariables { get; } = ["NORMNB_SWEEP_INDEX", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

    /// <summary>The task index the scheduler gave this process (the first of <see cref="IndexVariables"/> that is set), or null.</summary>
    /// <exception cref="ArgumentException">The variable is set but is not a non-negative integer.</exception>
    public static int? IndexFromEnvironment()
    {
        foreach (var name in IndexVariables)
        {
            var text = Environment.GetEnvironmentVariable(name);
            if (string.IsNullOrWhiteSpace(text))
                continue;
            return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                ? index
                : throw new ArgumentException($"{name}='{text}' is not a non-negative integer task index.");
        }
        return null;
    }

    /// <summary>The path of point <paramref name="name"/>'s result in <paramref name="folder"/>.</summary>
    public static string ResultPath(string folder, string name) => Path.Combine(folder, name + ".json");

    /// <summary>
    /// Trains grid point <paramref name="index"/> on <paramref name="data"/> and writes its record to FOLDER/NAME.json (a temporary file,
    /// then a rename, so a killed task leaves no half-written result). When the file exists and holds this very point, it is loaded
    /// instead: a re-submitted array resumes. A file holding a different configuration is an error, never overwritten.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The index is outside the grid.</exception>
    /// <exception cref="InvalidDataException">A saved result belongs to another configuration or is unreadable.</exception>
    public static SweepRecord RunPoint(SweepGrid grid, int index, string folder, CharDataset data, Action<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(data);
        grid.Validate(grid.Name);
        if (index < 0 || index >= grid.Points.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Sweep '{grid.Name}' has points 0–{grid.Points.Count - 1}; index {index} is outside it.");
        if (grid.IsTranslation)
            throw new ArgumentException($"Sweep '{grid.Name}' trains on '{grid.Dataset}': pass its translation task (Sweep.LoadTranslation), not a character data set.", nameof(data));
        var point = grid.Points[index];
        var path = ResultPath(folder, point.Name);
        if (File.Exists(path))
            return ReadRecord(path, grid, index);
        var config = point.Model! with { Vocabulary = data.VocabularySize };
        if (config != point.Model)
            throw new ArgumentException($"Sweep point {index} ('{point.Name}') has a vocabulary of {point.Model.Vocabulary} but the data set has {data.VocabularySize} characters.");
        Compute.Seed(point.InitSeed);
        using var model = new CharTransformer(point.Model!);
        var parameters = model.parameters().Sum(p => p.numel());
        var nonEmbedding = model.NonEmbeddingParameters;
        var result = LanguageModelTrainer.Train(point.Name, model, data, point.Training, progress);
        var record = new SweepRecord(index, point, parameters, nonEmbedding, result with { Steps = Thin(result.Steps, 100) });
        Directory.CreateDirectory(folder);
        WriteAtomically(path, JsonSerializer.Serialize(record, Compact));
        return record;
    }

    /// <summary>
    /// Trains translation grid point <paramref name="index"/> (a <see cref="Seq2SeqTransformer"/>) on <paramref name="task"/> and writes its
    /// record, with N_e and N_d, as <see cref="RunPoint(SweepGrid, int, string, CharDataset, Action{TrainingProgress}?)"/> does: resumed when
    /// the result exists, an error when it holds another configuration.
    /// </summary>
    /// <exception cref="ArgumentException">The grid is not a translation sweep, or the point's vocabulary or context does not fit the task.</exception>
    public static SweepRecord RunPoint(SweepGrid grid, int index, string folder, ITranslationTask task, Action<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(task);
        grid.Validate(grid.Name);
        if (!grid.IsTranslation)
            throw new ArgumentException($"Sweep '{grid.Name}' trains on '{grid.Dataset}': pass its character data set (Sweep.LoadDataset), not a translation task.", nameof(task));
        if (index < 0 || index >= grid.Points.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Sweep '{grid.Name}' has points 0–{grid.Points.Count - 1}; index {index} is outside it.");
        var point = grid.Points[index];
        var path = ResultPath(folder, point.Name);
        if (File.Exists(path))
            return ReadRecord(path, grid, index);
        var config = point.Translation!;
        if (config.Vocabulary != task.VocabularySize)
            throw new ArgumentException($"Sweep point {index} ('{point.Name}') has a vocabulary of {config.Vocabulary} but the task has {task.VocabularySize} tokens.");
        if (point.Training.Context != task.Length + 1)
            throw new ArgumentException($"Sweep point {index} ('{point.Name}') counts {point.Training.Context} target tokens a pair (Training.Context) but the task's pairs have {task.Length + 1}.");
        Compute.Seed(point.InitSeed);
        using var model = new Seq2SeqTransformer(config);
        var named = model.named_parameters().Select(p => (p.name, p.parameter.numel())).ToList();
        long Count(string part) => named.Where(p => p.name.StartsWith(part + ".", StringComparison.Ordinal) || p.name.StartsWith(part + "_norm.", StringComparison.Ordinal)).Sum(p => p.Item2);
        var (encoder, decoder) = (Count("encoder"), Count("decoder"));
        var result = TranslationTrainer.Train(point.Name, model, task, point.Training, progress);
        var record = new SweepRecord(index, point, named.Sum(p => p.Item2), encoder + decoder, result with { Steps = Thin(result.Steps, 100) }, encoder, decoder);
        Directory.CreateDirectory(folder);
        WriteAtomically(path, JsonSerializer.Serialize(record, Compact));
        return record;
    }

    /// <summary>Merges the results folder of <paramref name="grid"/>: every saved record in index order, the indices without one.</summary>
    /// <exception cref="InvalidDataException">A saved result belongs to another configuration or is unreadable (the message names the file).</exception>
    public static SweepResults Load(SweepGrid grid, string folder)
    {
        ArgumentNullException.ThrowIfNull(grid);
        var records = new List<SweepRecord>();
        var missing = new List<int>();
        for (var i = 0; i < grid.Points.Count; i++)
        {
            var path = ResultPath(folder, grid.Points[i].Name);
            if (File.Exists(path))
                records.Add(ReadRecord(path, grid, i));
            else
                missing.Add(i);
        }
        return new SweepResults(grid, folder, records, missing);
    }

    /// <summary>The Brown corpus as the sweeps' character data set (the notebooks build theirs the same way).</summary>
    public static CharDataset LoadDataset(SweepGrid grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        return grid.Dataset switch
        {
            "brown" => new CharDataset(BrownCorpus.Load().Select(d => d.Text).ToList()),
            "brown-translation" => throw new ArgumentException($"Sweep '{grid.Name}' trains on '{grid.Dataset}', a translation task: load it with Sweep.LoadTranslation."),
            var other => throw new ArgumentException($"Sweep '{grid.Name}': data set '{other}' is not one of {string.Join(", ", SweepGrid.Datasets)}."),
        };
    }

    /// <summary>The translation task of a "brown-translation" sweep: <see cref="CipherTranslation"/> on the Brown corpus (the character data set of <see cref="LoadDataset"/>), default settings.</summary>
    public static CipherTranslation LoadTranslation(SweepGrid grid)
    {
        ArgumentNullException.ThrowIfNull(grid);
        return grid.IsTranslation
            ? new CipherTranslation(LoadDataset(grid with { Dataset = "brown" }))
            : throw new ArgumentException($"Sweep '{grid.Name}' trains on '{grid.Dataset}', not a translation task: load it with Sweep.LoadDataset.");
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> through a temporary file in the same folder and a rename, so a
    /// reader (or a killed writer) never sees half a file.</summary>
    public static void WriteAtomically(string path, string text)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        var temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }

    private static SweepRecord ReadRecord(string path, SweepGrid grid, int index)
    {
        SweepRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<SweepRecord>(File.ReadAllText(path), SweepGrid.Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Sweep result {path} is not a sweep record ({e.Message}); delete it to train the point again.", e);
        }
        if (record?.Point is null || record.Result is null)
            throw new InvalidDataException($"Sweep result {path} is empty or incomplete; delete it to train the point again.");
        var point = grid.Points[index];
        if (record.Point.Model != point.Model || record.Point.Translation != point.Translation || record.Point.Training != point.Training || record.Point.InitSeed != point.InitSeed)
            throw new InvalidDataException(
                $"Sweep result {path} was trained with another configuration than grid point {index} ('{point.Name}'); delete it, or use another results folder, to train the point as the grid now says.");
        return record with { Index = index, Point = point };
    }

    // The evaluation steps, the first and last, and at most `keep` evenly spaced others: the curve without the per-step bulk.
    private static List<StepRecord> Thin(IReadOnlyList<StepRecord> steps, int keep)
    {
        var stride = Math.Max(1, steps.Count / keep);
        return steps.Where((s, i) => s.ValidationLoss is not null || i == 0 || i == steps.Count - 1 || i % stride == 0).ToList();
    }
}
