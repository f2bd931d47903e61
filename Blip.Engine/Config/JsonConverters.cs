// Converters for the shapes transformers allows in config files where C# wants one type.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blip.Engine.Config;

/// <summary>Reads a number or a list of numbers (e.g. <c>eos_token_id</c>) as a list.</summary>
internal sealed class IntOrIntListConverter : JsonConverter<IReadOnlyList<int>>
{
    public override IReadOnlyList<int> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return [];
        if (reader.TokenType == JsonTokenType.Number) return [reader.GetInt32()];
        return JsonSerializer.Deserialize<int[]>(ref reader, options) ?? [];
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<int> value, JsonSerializerOptions options)
    {
        if (value.Count == 1) writer.WriteNumberValue(value[0]);
        else JsonSerializer.Serialize(writer, value.ToArray(), options);
    }
}
