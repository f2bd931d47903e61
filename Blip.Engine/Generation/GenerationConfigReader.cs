// Reads the generation fields of a transformers generation_config.json into GenerationOptions.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Blip.Engine.Generation;

/// <summary>Maps <c>generation_config.json</c> keys to <see cref="GenerationOptions"/>; null values keep the default.</summary>
internal static class GenerationConfigReader
{
    public static GenerationOptions Apply(GenerationOptions o, JsonObject root, string source)
    {
        try
        {
            o = o with
            {
                MaxLength = Int(root, "max_length") ?? o.MaxLength,
                MaxNewTokens = Int(root, "max_new_tokens") ?? o.MaxNewTokens,
                MinLength = Int(root, "min_length") ?? o.MinLength,
                MinNewTokens = Int(root, "min_new_tokens") ?? o.MinNewTokens,
                NumBeams = Int(root, "num_beams") ?? o.NumBeams,
                DoSample = root["do_sample"]?.GetValue<bool>() ?? o.DoSample,
                Temperature = Real(root, "temperature") ?? o.Temperature,
                TopK = Int(root, "top_k") ?? o.TopK,
                TopP = Real(root, "top_p") ?? o.TopP,
                RepetitionPenalty = Real(root, "repetition_penalty") ?? o.RepetitionPenalty,
                NoRepeatNgramSize = Int(root, "no_repeat_ngram_size") ?? o.NoRepeatNgramSize,
                LengthPenalty = Real(root, "length_penalty") ?? o.LengthPenalty,
                EarlyStopping = Stopping(root["early_stopping"]) ?? o.EarlyStopping,
                NumReturnSequences = Int(root, "num_return_sequences") ?? o.NumReturnSequences,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new ArgumentException($"{source}: a generation field has the wrong type: {e.Message}", nameof(root), e);
        }
        try { o.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"{source}: {e.Message}", nameof(root), e); }
        return o;
    }

    private static int? Int(JsonObject root, string key) => root[key] is { } v ? v.GetValue<int>() : null;

    private static double? Real(JsonObject root, string key) => root[key] is { } v ? v.GetValue<double>() : null;

    private static BeamEarlyStopping? Stopping(JsonNode? node) => node?.GetValueKind() switch
    {
        null => null,
        JsonValueKind.True => BeamEarlyStopping.WhenBeamsFinished,
        JsonValueKind.False => BeamEarlyStopping.Heuristic,
        JsonValueKind.String when node.GetValue<string>() == "never" => BeamEarlyStopping.Never,
        JsonValueKind.Null => null,
        _ => throw new FormatException($"early_stopping must be true, false or \"never\", got {node.ToJsonString()}"),
    };
}
