// The JSONL training log: one line per optimizer step (and one per evaluation).
using System.Globalization;
using System.Text.Json;

namespace Blip.Engine.Training;

/// <summary>Appends JSON lines to a log file, flushed after each line so that a crash loses nothing.</summary>
public sealed class TrainingLog : IDisposable
{
    private readonly StreamWriter writer;

    /// <summary>Opens <paramref name="path"/> for appending (a resumed run continues the same file).</summary>
    public TrainingLog(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        writer = new StreamWriter(path, append: true) { AutoFlush = true };
    }

    /// <summary>Removes the records of steps after <paramref name="step"/> from the log at <paramref name="path"/> (if
    /// any), so that a run resumed from the checkpoint of that step logs each step once. A last line cut short (a
    /// process killed mid-write) goes too; the file is replaced by a rename.</summary>
    public static void DropStepsAfter(string path, int step)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) return;
        var lines = File.ReadAllLines(path);
        var kept = lines.Where((line, i) => StepOf(line) is { } s ? s <= step : i < lines.Length - 1 && line.Length > 0).ToList();
        if (kept.Count == lines.Length) return;
        string tmp = path + ".tmp";
        File.WriteAllLines(tmp, kept);
        File.Move(tmp, path, overwrite: true);
    }

    private static int? StepOf(string line)
    {
        try
        {
            using var record = JsonDocument.Parse(line);
            return record.RootElement.ValueKind == JsonValueKind.Object && record.RootElement.TryGetProperty("step", out var s)
                && s.TryGetInt32(out int value) ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes <c>{"step", "epoch", "loss", "lr", "images_per_s"}</c>.</summary>
    public void Step(int step, int epoch, double loss, double learningRate, double imagesPerSecond) =>
        Write(new Dictionary<string, object> { ["step"] = step, ["epoch"] = epoch, ["loss"] = loss, ["lr"] = learningRate, ["images_per_s"] = Math.Round(imagesPerSecond, 3) });

    /// <summary>Writes an evaluation record: <c>{"step", "epoch", "eval": {metric: value}}</c>.</summary>
    public void Evaluation(int step, int epoch, IReadOnlyDictionary<string, double> metrics) =>
        Write(new Dictionary<string, object> { ["step"] = step, ["epoch"] = epoch, ["eval"] = metrics });

    private void Write(Dictionary<string, object> record) =>
        writer.WriteLine(JsonSerializer.Serialize(record).ToString(CultureInfo.InvariantCulture));

    /// <inheritdoc/>
    public void Dispose() => writer.Dispose();
}
