// Reads the generation fields of a transformers generation_config.json into GenerationOptions.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Blip.Engine.Generation;

/// <summary>Maps <c>generation_config.json</c> keys to <see cref="GenerationOptions"/>; null values keep the default.
/// Keys of transformers' GenerationConfig that change the ids but that Blip.Engine does not implement are refused
/// unless they hold their "off" value, so that no option is dropped silently.</summary>
internal static class GenerationConfigReader
{
    /// <summary>transformers 5 GenerationConfig fields that change the ids, each with the JSON value besides null that
    /// leaves them off (null: only null is off, or an empty list).</summary>
    private static readonly (string Key, string? Off)[] Unsupported =
    [
        ("typical_p", "1.0"), ("min_p", null), ("top_h", null), ("epsilon_cutoff", "0.0"), ("eta_cutoff", "0.0"),
        ("encoder_repetition_penalty", "1.0"), ("encoder_no_repeat_ngram_size", "0"), ("bad_words_ids", null),
        ("suppress_tokens", null), ("begin_suppress_tokens", null), ("sequence_bias", null), ("forced_bos_token_id", null),
        ("forced_eos_token_id", null), ("exponential_decay_length_penalty", null), ("renormalize_logits", "false"),
        ("remove_invalid_values", "false"), ("guidance_scale", "1.0"), ("watermarking_config", null), ("max_time", null),
        ("stop_strings", null), ("num_beam_groups", "1"), ("diversity_penalty", "0.0"), ("penalty_alpha", null),
        ("constraints", null), ("force_words_ids", null), ("dola_layers", null), ("prompt_lookup_num_tokens", null),
        ("token_healing", "false"),
    ];

    public static GenerationOptions Apply(GenerationOptions o, JsonObject root, string source)
    {
        RefuseUnsupported(root, source);
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

    private static void RefuseUnsupported(JsonObject root, string source)
    {
        foreach (var (key, off) in Unsupported)
        {
            if (root[key] is not { } value || IsOff(value, off)) continue;
            throw new ArgumentException($"{source}: {key} = {value.ToJsonString()} is a transformers generation option that " +
                $"Blip.Engine does not implement; remove it or set it to {off ?? "null"}.", nameof(root));
        }
    }

    private static bool IsOff(JsonNode value, string? off) => value.GetValueKind() switch
    {
        JsonValueKind.Null => true,
        JsonValueKind.Array => value.AsArray().Count == 0,
        JsonValueKind.Number => off is not null and not "false" && value.GetValue<double>() == double.Parse(off, CultureInfo.InvariantCulture),
        JsonValueKind.False => off == "false",
        _ => false,
    };

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
