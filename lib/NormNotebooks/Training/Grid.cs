// SPDX-License-Identifier: MIT
namespace NormNotebooks.Training;

/// <summary>
/// Runs a grid of configurations one after another — the unit a batch scheduler could fan out. With a folder, each finished run is
/// saved as NAME.json (written to a temporary file, then renamed) and a later call loads it instead of training again, so an
/// interrupted sweep resumes where it stopped.
/// </summary>
public static class Grid
{
    /// <summary>Runs (or loads) every configuration, in order.</summary>
    /// <param name="configs">The grid.</param>
    /// <param name="name">A unique, file-name-safe name per configuration (letters, digits, '-', '_', '.', '=').</param>
    /// <param name="run">Trains one configuration.</param>
    /// <param name="folder">Where results are saved and resumed from; null: nothing saved.</param>
    /// <param name="log">Hears "trained NAME" or "loaded NAME".</param>
    public static IReadOnlyList<TrainingResult> Run<T>(IEnumerable<T> configs, Func<T, string> name, Func<T, TrainingResult> run, string? folder = null,
        Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(configs);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(run);
        var list = configs.ToList();
        var names = list.Select(name).ToList();
        foreach (var n in names)
            if (n.Length == 0 || n.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or '=')) || n.StartsWith('.'))
                throw new ArgumentException($"Grid: run name '{n}' is not file-name safe (letters, digits, '-', '_', '.', '=').", nameof(name));
        var duplicate = names.GroupBy(n => n).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"Grid: run name '{duplicate.Key}' is used by more than one configuration.", nameof(name));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        var results = new List<TrainingResult>(list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            var path = folder is null ? null : Path.Combine(folder, names[i] + ".json");
            if (path is not null && File.Exists(path))
            {
                try
                {
                    results.Add(TrainingResult.FromJson(File.ReadAllText(path)));
                }
                catch (System.Text.Json.JsonException e)
                {
                    throw new InvalidDataException($"Grid: saved result {path} is not a training result ({e.Message}); delete it to train again.", e);
                }
                log?.Invoke($"loaded {names[i]}");
                continue;
            }
            var result = run(list[i]);
            if (path is not null)
            {
                var temporary = path + ".tmp";
                File.WriteAllText(temporary, result.ToJson());
                File.Move(temporary, path, overwrite: true);
            }
            results.Add(result);
            log?.Invoke($"trained {names[i]}");
        }
        return results;
    }
}
