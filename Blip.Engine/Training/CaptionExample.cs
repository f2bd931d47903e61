// One image-caption pair and the readers of the two file formats BLIP fine-tunes on.
using System.Text.Json;
using Blip.Engine.Config;

namespace Blip.Engine.Training;

/// <summary>An image file and a caption of it.</summary>
/// <param name="ImagePath">Absolute path of the image.</param>
/// <param name="Caption">The caption text.</param>
/// <param name="ImageId">Identifies the image (pairs with the same id are positives for ITC/ITM).</param>
public sealed record CaptionExample(string ImagePath, string Caption, long ImageId);

/// <summary>Reads caption datasets.</summary>
public static class CaptionDataset
{
    /// <summary>The longest JSONL line read, in characters: a longer one is an error rather than a string that could
    /// exhaust memory (a caption line is a few hundred characters).</summary>
    public const int MaxLineLength = 1 << 20;

    /// <summary>Reads a JSONL file, one <c>{"image": path, "caption": text}</c> per line; relative paths are relative to
    /// the file, absolute ones are kept. Blank lines are skipped; a UTF-8 byte order mark is allowed.</summary>
    /// <exception cref="FormatException">A line is not such an object, its caption is empty or its image path is not a
    /// path; the message names the file and line.</exception>
    /// <exception cref="FileNotFoundException">A line names an image that does not exist (found here, before any
    /// training, rather than at its batch).</exception>
    public static IReadOnlyList<CaptionExample> LoadJsonl(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file not found: {path}", path);
        string root = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var examples = new List<CaptionExample>();
        var ids = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (line, lineNo) in ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            var (image, caption) = ReadJsonlLine(line, path, lineNo);
            examples.Add(Example(root, image, caption, $"{path}:{lineNo}", ids));
        }
        if (examples.Count == 0) throw new FormatException($"{path}: no examples");
        return examples;
    }

    /// <summary>The example of one line or entry; <paramref name="where"/> names it in errors.</summary>
    private static CaptionExample Example(string root, string image, string caption, string where, Dictionary<string, long> ids)
    {
        if (string.IsNullOrWhiteSpace(caption)) throw new FormatException($"{where}: the caption is empty");
        if (image.Length == 0 || image.Contains('\0', StringComparison.Ordinal)) throw new FormatException($"{where}: \"image\" is not a file path: '{image}'");
        string full = Path.GetFullPath(Path.Combine(root, image));
        if (!ids.TryGetValue(full, out long id))
        {
            if (!File.Exists(full)) throw new FileNotFoundException($"{where}: image not found: {full}", full);
            ids[full] = id = ids.Count;
        }
        return new CaptionExample(full, caption, id);
    }

    /// <summary>The lines of <paramref name="path"/> with their 1-based numbers, none longer than <see cref="MaxLineLength"/>.</summary>
    private static IEnumerable<(string Line, int Number)> ReadLines(string path)
    {
        // Strict: bytes that are not UTF-8 are refused, not read as U+FFFD into a caption.
        using var reader = new StreamReader(path, new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: true);
        var line = new System.Text.StringBuilder();
        var buffer = new char[1 << 16];
        int number = 1, read;
        int Next()
        {
            try
            {
                return reader.Read(buffer, 0, buffer.Length);
            }
            catch (System.Text.DecoderFallbackException e)
            {
                throw new FormatException($"{path}: {Utf8Text.FindProblem(path) ?? e.Message}", e);
            }
        }
        while ((read = Next()) > 0)
            for (int start = 0; start < read;)
            {
                int end = Array.IndexOf(buffer, '\n', start, read - start);
                int stop = end < 0 ? read : end;
                if (line.Length + stop - start > MaxLineLength) throw new FormatException($"{path}:{number}: line longer than {MaxLineLength} characters");
                line.Append(buffer, start, stop - start);
                start = stop + 1;
                if (end < 0) break;
                yield return (line.ToString().TrimEnd('\r'), number++);
                line.Clear();
            }
        if (line.Length > 0) yield return (line.ToString().TrimEnd('\r'), number);
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
    /// <exception cref="FormatException">The file is not such a list or a caption is empty; the message names the file
    /// and the entry.</exception>
    /// <exception cref="FileNotFoundException">An entry names an image that does not exist.</exception>
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
            string where = $"{path}[{index++}]";
            var (image, captions) = ReadKarpathyEntry(e, where);
            examples.AddRange(captions.Select(c => Example(imageRoot, image, c, where, ids)));
        }
        if (examples.Count == 0) throw new FormatException($"{path}: no examples");
        return examples;
    }

    private static JsonDocument ParseKarpathy(string path)
    {
        try
        {
            return JsonDocument.Parse(Utf8Text.Read(path));
        }
        catch (ConfigException e)
        {
            throw new FormatException(e.Message, e);
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
