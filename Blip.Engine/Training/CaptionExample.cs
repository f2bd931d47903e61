// One image-caption pair and the readers of the two file formats BLIP fine-tunes on.
using System.Text.Json;

namespace Blip.Engine.Training;

/// <summary>An image file and a caption of it.</summary>
/// <param name="ImagePath">Absolute path of the image.</param>
/// <param name="Caption">The caption text.</param>
/// <param name="ImageId">Identifies the image (pairs with the same id are positives for ITC/ITM).</param>
public sealed record CaptionExample(string ImagePath, string Caption, long ImageId);

/// <summary>Reads caption datasets.</summary>
public static class CaptionDataset
{
    /// <summary>Reads a JSONL file, one <c>{"image": path, "caption": text}</c> per line; paths relative to the file.</summary>
    /// <exception cref="FormatException">A line is not such an object; the message names the file and line.</exception>
    public static IReadOnlyList<CaptionExample> LoadJsonl(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file not found: {path}", path);
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var examples = new List<CaptionExample>();
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var (image, caption) = ReadJsonlLine(line, path, lineNo);
            string full = Path.GetFullPath(Path.Combine(root, image));
            if (!ids.TryGetValue(full, out long id)) ids[full] = id = ids.Count;
            examples.Add(new CaptionExample(full, caption, id));
        }
        if (examples.Count == 0) throw new FormatException($"{path}: no examples");
        return examples;
    }

    private static (string Image, string Caption) ReadJsonlLine(string line, string path, int lineNo)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            if (e.ValueKind != JsonValueKind.Object) throw new FormatException("not a JSON object");
            string image = e.TryGetProperty("image", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : throw new FormatException("missing string \"image\"");
            string caption = e.TryGetProperty("caption", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : throw new FormatException("missing string \"caption\"");
            return (image, caption);
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            throw new FormatException($"{path}:{lineNo}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads BLIP's COCO Karpathy annotation JSON (<c>coco_karpathy_train.json</c>: a list of
    /// <c>{"image", "caption", "image_id"}</c>; val/test files: <c>{"image", "caption": [..]}</c>, one example per
    /// caption). Image paths are relative to <paramref name="imageRoot"/>.</summary>
    /// <exception cref="FormatException">The file is not such a list; the message names the file and the entry.</exception>
    public static IReadOnlyList<CaptionExample> LoadKarpathy(string path, string imageRoot)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(imageRoot);
        if (!File.Exists(path)) throw new FileNotFoundException($"annotation file not found: {path}", path);
        using var doc = ParseKarpathy(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new FormatException($"{path}: expected a JSON array");
        var examples = new List<CaptionExample>();
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        int index = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var (image, captions) = ReadKarpathyEntry(e, $"{path}[{index++}]");
            string full = Path.GetFullPath(Path.Combine(imageRoot, image));
            if (!ids.TryGetValue(full, out long id)) ids[full] = id = ids.Count;
            examples.AddRange(captions.Select(c => new CaptionExample(full, c, id)));
        }
        if (examples.Count == 0) throw new FormatException($"{path}: no examples");
        return examples;
    }

    private static JsonDocument ParseKarpathy(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not valid JSON: {e.Message}", e);
        }
    }

    private static (string Image, List<string> Captions) ReadKarpathyEntry(JsonElement e, string where)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new FormatException($"{where}: expected an object, got {e.ValueKind}");
        if (!e.TryGetProperty("image", out var i) || i.ValueKind != JsonValueKind.String) throw new FormatException($"{where}: missing string \"image\"");
        if (!e.TryGetProperty("caption", out var c)) throw new FormatException($"{where}: missing \"caption\"");
        var captions = c.ValueKind switch
        {
            JsonValueKind.String => [c],
            JsonValueKind.Array => c.EnumerateArray().ToList(),
            _ => throw new FormatException($"{where}: \"caption\" must be a string or a list of strings"),
        };
        if (captions.Any(x => x.ValueKind != JsonValueKind.String)) throw new FormatException($"{where}: \"caption\" must be a string or a list of strings");
        return (i.GetString()!, captions.Select(x => x.GetString()!).ToList());
    }
}
