// Reads the generation fields of a transformers generation_config.json into GenerationOptions.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Config;

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

    /// <summary>The implemented keys and the <see cref="GenerationOptions"/> property each sets, so that a value
    /// <see cref="GenerationOptions.Validate"/> refuses is reported by its key in the file.</summary>
    private static readonly (string Key, string Property)[] Fields =
    [
        ("max_length", nameof(GenerationOptions.MaxLength)), ("max_new_tokens", nameof(GenerationOptions.MaxNewTokens)),
        ("min_length", nameof(GenerationOptions.MinLength)), ("min_new_tokens", nameof(GenerationOptions.MinNewTokens)),
        ("num_beams", nameof(GenerationOptions.NumBeams)), ("do_sample", nameof(GenerationOptions.DoSample)),
        ("temperature", nameof(GenerationOptions.Temperature)), ("top_k", nameof(GenerationOptions.TopK)),
        ("top_p", nameof(GenerationOptions.TopP)), ("repetition_penalty", nameof(GenerationOptions.RepetitionPenalty)),
        ("no_repeat_ngram_size", nameof(GenerationOptions.NoRepeatNgramSize)),
        ("length_penalty", nameof(GenerationOptions.LengthPenalty)), ("early_stopping", nameof(GenerationOptions.EarlyStopping)),
        ("num_return_sequences", nameof(GenerationOptions.NumReturnSequences)),
    ];

    public static GenerationOptions Apply(GenerationOptions o, JsonObject root, string source)
    {
        RefuseUnsupported(root, source);
        o = o with
        {
            MaxLength = Int(root, "max_length", source) ?? o.MaxLength,
            MaxNewTokens = Int(root, "max_new_tokens", source) ?? o.MaxNewTokens,
            MinLength = Int(root, "min_length", source) ?? o.MinLength,
            MinNewTokens = Int(root, "min_new_tokens", source) ?? o.MinNewTokens,
            NumBeams = Int(root, "num_beams", source) ?? o.NumBeams,
            DoSample = Read<bool>(root, "do_sample", source, v => v.GetValue<bool>(), "true or false") ?? o.DoSample,
            Temperature = Real(root, "temperature", source) ?? o.Temperature,
            TopK = Int(root, "top_k", source) ?? o.TopK,
            TopP = Real(root, "top_p", source) ?? o.TopP,
            RepetitionPenalty = Real(root, "repetition_penalty", source) ?? o.RepetitionPenalty,
            NoRepeatNgramSize = Int(root, "no_repeat_ngram_size", source) ?? o.NoRepeatNgramSize,
            LengthPenalty = Real(root, "length_penalty", source) ?? o.LengthPenalty,
            EarlyStopping = Read(root, "early_stopping", source, Stopping, "true, false or \"never\"") ?? o.EarlyStopping,
            NumReturnSequences = Int(root, "num_return_sequences", source) ?? o.NumReturnSequences,
        };
        try { o.Validate(); }
        catch (ArgumentException e)
        {
            string key = Fields.FirstOrDefault(f => f.Property == e.ParamName).Key ?? "";
            throw new ConfigException(source, key, e.Message, e);
        }
        return o;
    }

    private static void RefuseUnsupported(JsonObject root, string source)
    {
        foreach (var (key, off) in Unsupported)
        {
            if (root[key] is not { } value || IsOff(value, off)) continue;
            throw new ConfigException(source, key, $"{value.ToJsonString()} sets a transformers generation option that " +
                $"Blip.Engine does not implement; remove it or set it to {off ?? "null"}");
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

    private static int? Int(JsonObject root, string key, string source) =>
        Read<int>(root, key, source, v => v.GetValue<int>(), "an integer (32-bit)");

    private static double? Real(JsonObject root, string key, string source) =>
        Read<double>(root, key, source, v => v.GetValue<double>(), "a number");

    /// <summary>The value of <paramref name="key"/>, null when absent or null; a value of another kind is a
    /// <see cref="ConfigException"/> naming the key and what it must be.</summary>
    private static T? Read<T>(JsonObject root, string key, string source, Func<JsonNode, T?> read, string must)
        where T : struct
    {
        if (root[key] is not { } v || v.GetValueKind() == JsonValueKind.Null) return null;
        try { return read(v); }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new ConfigException(source, key, $"must be {must}, got {v.ToJsonString()}", e);
        }
    }

    private static BeamEarlyStopping? Stopping(JsonNode node) => node.GetValueKind() switch
    {
        JsonValueKind.True => BeamEarlyStopping.WhenBeamsFinished,
        JsonValueKind.False => BeamEarlyStopping.Heuristic,
        JsonValueKind.String when node.GetValue<string>() == "never" => BeamEarlyStopping.Never,
        _ => throw new FormatException("not true, false or \"never\""),
    };
}
