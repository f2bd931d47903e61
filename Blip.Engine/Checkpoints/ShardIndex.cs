// Reads model.safetensors.index.json: the weight_map from tensor name to shard file.
using System.Text.Json;

namespace Blip.Engine.Checkpoints;

/// <summary>The <c>weight_map</c> of a sharded checkpoint's index, duplicate keys rejected.</summary>
internal static class ShardIndex
{
    /// <summary>Reads the weight map (tensor name → shard file path relative to the index's folder, '/'-separated),
    /// in file order.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ReadWeightMap(string indexPath)
    {
        byte[] bytes = File.ReadAllBytes(indexPath);
        try
        {
            return Parse(indexPath, bytes);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(indexPath, null, $"the index is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e) // a name or string escaping a lone surrogate ("\ud800"), which is not text
        {
            throw new CheckpointFormatException(indexPath, null, $"the index holds a string that is not text: {e.Message}", e);
        }
    }

    private static List<KeyValuePair<string, string>> Parse(string indexPath, ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(indexPath, null, "the index is not a JSON object");
        List<KeyValuePair<string, string>>? map = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isMap = reader.ValueTextEquals("weight_map");
            reader.Read();
            if (!isMap)
                reader.Skip();
            else if (map is not null)
                throw new CheckpointFormatException(indexPath, "weight_map", "the key appears twice");
            else
                map = ReadMap(ref reader, indexPath);
        }
        return map ?? throw new CheckpointFormatException(indexPath, "weight_map", "the index has no weight_map");
    }

    private static List<KeyValuePair<string, string>> ReadMap(ref Utf8JsonReader reader, string indexPath)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(indexPath, "weight_map", "must be an object from tensor name to shard file");
        var map = new List<KeyValuePair<string, string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (!seen.Add(key))
                throw new CheckpointFormatException(indexPath, key, "the key appears twice in weight_map");
            string? shard = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            // A path below the index's folder, as transformers joins it (os.path.join) and the Hub serves it.
            if (!HubCache.IsRepoPath(shard))
                throw new CheckpointFormatException(indexPath, key,
                    $"weight_map must name a shard file below the index's folder ('/'-separated parts, none empty, '.' or '..'), not {(shard is null ? "a non-string" : $"'{shard}'")}");
            map.Add(new(key, shard));
        }
        return map;
    }
}
