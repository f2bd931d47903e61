// Reads the generation fields of a transformers generation_config.json into GenerationOptions.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Config;

namespace Blip.Engine.Generation;

/// <summary>Maps <c>generation_config.json</c> keys to <see cref="GenerationOptions"/>; null values keep the default.
/// Keys of transformers' GenerationConfig that change the ids but that Blip.Engine does not implement are refused
/// unless they hold their "off" value or transformers does not read them for the file's search (a sampling warper
/// without do_sample), so that no option is dropped silently. A JSON int in temperature or repetition_penalty is refused
/// where transformers' processor would take it, as transformers refuses it there (its GenerationConfig itself loads any
/// value; it is generate() that refuses). A float or a bool in an int field is read as transformers uses it
/// (<see cref="GenerationIntFields"/>).</summary>
internal static class GenerationConfigReader
{
    /// <summary>When transformers 5.12 reads an unimplemented field: always, only with do_sample (its sampling warpers),
    /// only with beams (num_beam_groups).</summary>
    private enum When { Always, Sampling, Beams }

    /// <summary>transformers 5 GenerationConfig fields that change the ids, each with when transformers reads it, the
    /// JSON value besides null that leaves it off (null: only null is off; "[]": the empty list, which transformers'
    /// suppress processors take as nothing to suppress, while bad_words_ids, sequence_bias, exponential_decay_length_penalty
    /// and the rest refuse it or fail on it), and for numbers the values
    /// its own test leaves off (typical_p only acts below 1, epsilon_cutoff and eta_cutoff only inside (0, 1): 1.5 is as
    /// good as 0 there). diversity_penalty is not here: transformers 5.12 never reads it (group beam search is a Hub
    /// extension; num_beam_groups above 1 with beams is refused).</summary>
    private static readonly (string Key, string? Off, When When, Func<double, bool>? OffNumber)[] Unsupported =
    [
        ("typical_p", "1.0", When.Sampling, x => !(x < 1)), ("min_p", null, When.Sampling, null),
        ("top_h", null, When.Sampling, null), ("epsilon_cutoff", "0.0", When.Sampling, x => !(x > 0 && x < 1)),
        ("eta_cutoff", "0.0", When.Sampling, x => !(x > 0 && x < 1)),
        ("encoder_repetition_penalty", "1.0", When.Always, x => x == 1), ("encoder_no_repeat_ngram_size", "0", When.Always, null),
        ("bad_words_ids", null, When.Always, null), ("suppress_tokens", "[]", When.Always, null),
        ("begin_suppress_tokens", "[]", When.Always, null), ("sequence_bias", null, When.Always, null),
        ("forced_bos_token_id", null, When.Always, null), ("forced_eos_token_id", null, When.Always, null),
        ("exponential_decay_length_penalty", null, When.Always, null), ("renormalize_logits", "false", When.Always, null),
        ("remove_invalid_values", "false", When.Always, null), ("guidance_scale", "1.0", When.Always, x => x == 1),
        ("watermarking_config", null, When.Always, null), ("max_time", null, When.Always, null),
        ("stop_strings", null, When.Always, null), ("num_beam_groups", "1", When.Beams, x => !(x > 1)),
        ("penalty_alpha", null, When.Always, null), ("constraints", null, When.Always, null),
        ("force_words_ids", null, When.Always, null), ("dola_layers", null, When.Always, null),
        ("prompt_lookup_num_tokens", null, When.Always, null), ("token_healing", "false", When.Always, null),
    ];

    /// <summary>The float fields whose processor transformers builds only from a Python float, and when it builds it:
    /// <c>TemperatureLogitsWarper</c> with do_sample and temperature != 1.0, <c>RepetitionPenaltyLogitsProcessor</c>
    /// whenever repetition_penalty != 1.0. There a JSON int is refused ("`temperature` (=2) has to be a strictly
    /// positive float", "`penalty` has to be a strictly positive float, but is 2"); top_p goes through float() and
    /// length_penalty into a power, so ints pass.</summary>
    private static readonly (string Key, string Processor, When When, Func<GenerationOptions, double> Value)[] FloatOnly =
    [
        ("temperature", "TemperatureLogitsWarper", When.Sampling, o => o.Temperature),
        ("repetition_penalty", "RepetitionPenaltyLogitsProcessor", When.Always, o => o.RepetitionPenalty),
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
        o = o with
        {
            DoSample = Read<bool>(root, "do_sample", source, v => v.GetValue<bool>(), "true or false") ?? o.DoSample,
            Temperature = Real(root, "temperature", source) ?? o.Temperature,
            TopP = Real(root, "top_p", source) ?? o.TopP,
            RepetitionPenalty = Real(root, "repetition_penalty", source) ?? o.RepetitionPenalty,
            LengthPenalty = Real(root, "length_penalty", source) ?? o.LengthPenalty,
            EarlyStopping = Read(root, "early_stopping", source, Stopping, "true, false or \"never\"") ?? o.EarlyStopping,
        };
        o = GenerationIntFields.Apply(o, root, source);
        // No option is set after this point: setting Temperature or TopK would drop the checks kept for them.
        o = RefuseUnsupported(root, o, source);
        o = RefuseInts(root, o, source);
        try { o.Validate(); }
        catch (ArgumentException e)
        {
            string key = Fields.FirstOrDefault(f => f.Property == e.ParamName).Key ?? "";
            throw new ConfigException(source, key, e.Message, e);
        }
        return o;
    }

    // A sampling-only or beams-only field that the file's search does not read is kept with the options, for the
    // search that code may choose later (GenerationFileChecks).
    private static GenerationOptions RefuseUnsupported(JsonObject root, GenerationOptions o, string source)
    {
        foreach (var (key, off, when, offNumber) in Unsupported)
        {
            if (root[key] is not { } value || IsOff(value, off, offNumber)) continue;
            string problem = $"{value.ToJsonString()} sets a transformers generation option that Blip.Engine does not " +
                $"implement; remove it or set it to {off ?? "null"}";
            if (Search(when) is not { } search || GenerationFileChecks.Reads(search, o))
                throw new ConfigException(source, key, problem);
            o = o with { FileChecks = GenerationFileChecks.Add(o.FileChecks, source, key, search, problem) };
        }
        return o;
    }

    private static GenerationFileChecks.Search? Search(When when) => when switch
    {
        When.Sampling => GenerationFileChecks.Search.Sampling,
        When.Beams => GenerationFileChecks.Search.Beams,
        _ => null,
    };

    // A bool is the int 0 or 1 to transformers' comparisons (typical_p true is not below 1.0).
    private static bool IsOff(JsonNode value, string? off, Func<double, bool>? offNumber) => value.GetValueKind() switch
    {
        JsonValueKind.Null => true,
        JsonValueKind.Array => off == "[]" && value.AsArray().Count == 0,
        JsonValueKind.Number when offNumber is not null => offNumber(value.GetValue<double>()),
        JsonValueKind.Number => off is not null and not "false" and not "[]" && value.GetValue<double>() == double.Parse(off, CultureInfo.InvariantCulture),
        JsonValueKind.True or JsonValueKind.False when offNumber is not null => offNumber(value.GetValueKind() == JsonValueKind.True ? 1 : 0),
        JsonValueKind.False => off == "false",
        _ => false,
    };

    // An int temperature while the file does not sample is kept with the options, for sampling chosen in code later.
    private static GenerationOptions RefuseInts(JsonObject root, GenerationOptions o, string source)
    {
        foreach (var (key, processor, when, value) in FloatOnly)
        {
            if (root[key] is not { } node || value(o) == 1) continue;
            using var document = JsonDocument.Parse(node.ToJsonString());
            if (!ConfigFieldTypes.IsInt(document.RootElement)) continue;
            string problem = $"{ConfigFieldTypes.Describe(document.RootElement)} is not a float (with a decimal point or an " +
                $"exponent): transformers' {processor} takes only a float, and refuses it at generate()";
            if (Search(when) is not { } search || GenerationFileChecks.Reads(search, o))
                throw new ConfigException(source, key, problem);
            o = o with { FileChecks = GenerationFileChecks.Add(o.FileChecks, source, key, search, problem) };
        }
        return o;
    }

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
