// The int fields and token ids of generation_config.json, read as transformers 5.12.1 uses a float or a bool in them.
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Config;

namespace Blip.Engine.Generation;

/// <summary>Reads the int fields of <c>generation_config.json</c> (lengths, beams, top_k, n-gram size, returned
/// sequences) and checks its token ids as transformers 5.12.1 takes them.</summary>
/// <remarks>transformers' GenerationConfig loads a float or a bool there unchecked (a bool is the int 0 or 1 to Python),
/// and generate() compares it: a float passes as a length (max_length 6.5 stops at 7 tokens, as
/// <c>cur_len &gt;= max_length</c> does), as a count of exactly 1.0 (num_beams, num_return_sequences without beams), and
/// as an "off" value where the processor is built only above 0 (min_length, no_repeat_ngram_size, top_k 0.0). It fails
/// where a processor checks for an int ("`min_length` has to be a non-negative integer, but is 6.0", "`top_k` has to be a
/// strictly positive integer, but is 5.0", "`ngram_size` has to be ...") or a tensor takes it as a size (beam search's
/// <c>full()</c>, <c>repeat_interleave()</c>); those files are a <see cref="ConfigException"/> here. BLIP passes its own
/// eos and pad ids to generate(), over the file's; the file's pad_token_id is still compared with 0 at load, and bos and
/// decoder_start ids are made tensors.</remarks>
internal static class GenerationIntFields
{
    /// <summary>A JSON number or bool in an int field: its value, whether Python reads it as a float or a bool, and the
    /// value as written with that kind (for messages).</summary>
    private readonly record struct Number(double Value, bool IsFloat, bool IsBool, string Text);

    /// <summary><paramref name="o"/> with the int fields of <paramref name="root"/> applied; do_sample must be set.</summary>
    public static GenerationOptions Apply(GenerationOptions o, JsonObject root, string source)
    {
        Number? Get(string key) => Read(root, key, source);
        if (Get("num_beams") is { } beams) o = o with { NumBeams = Beams(beams, source) };
        bool beamSearch = o.NumBeams > 1;
        Number? maxNew = Get("max_new_tokens"), minNew = Get("min_new_tokens");
        RefuseTokenIds(root, source);
        o = o with
        {
            MaxNewTokens = maxNew is { } mn ? Length(mn, "max_new_tokens", beamSearch, source) : o.MaxNewTokens,
            // With max_new_tokens, transformers replaces max_length by an int (max_new_tokens + the prompt's length).
            MaxLength = Get("max_length") is { } ml ? MaxLength(ml, beamSearch && maxNew is null, source) : o.MaxLength,
            MinNewTokens = minNew is { } n ? MinNewTokens(n, source) : o.MinNewTokens,
            // After MinNewTokens, whose init clears it: a float at or below -1, refused at generate() for a longer input.
            FloatMinNewTokens = minNew is { IsFloat: true } f ? f.Value : o.FloatMinNewTokens,
            // With min_new_tokens, transformers replaces min_length by min_new_tokens + the prompt's length.
            MinLength = Get("min_length") is { } l && (minNew is null || !l.IsFloat)
                ? OnAbove0(l, "min_length", "MinLengthLogitsProcessor", source) : o.MinLength,
            NoRepeatNgramSize = Get("no_repeat_ngram_size") is { } g
                ? OnAbove0(g, "no_repeat_ngram_size", "NoRepeatNGramLogitsProcessor", source) : o.NoRepeatNgramSize,
            TopK = Get("top_k") is { } k ? TopK(k, o, source) : o.TopK,
            NumReturnSequences = Get("num_return_sequences") is { } r ? Returned(r, beamSearch, source) : o.NumReturnSequences,
        };
        // Kept for sampling or beams chosen in code later (after the inits above, which would drop them).
        if (Get("top_k") is { } topK && TopKProblem(topK) is { } problem)
            o = o with { FileChecks = GenerationFileChecks.Add(o.FileChecks, source, "top_k", GenerationFileChecks.Search.Sampling, problem) };
        if (beamSearch) return o;
        if (maxNew is { IsFloat: true } floatNew) o = WithBeamsCheck(o, "max_new_tokens", $"{floatNew.Text} is not an int: {FloatLengthWithBeams}", source);
        if (maxNew is null && Get("max_length") is { IsFloat: true } floatMax)
            o = WithBeamsCheck(o, "max_length", $"{floatMax.Text} is not an int: {FloatLengthWithBeams}", source);
        if (Get("num_return_sequences") is { } returned && (returned.IsFloat || returned.Value <= 0))
            o = WithBeamsCheck(o, "num_return_sequences", returned.IsFloat ? $"{returned.Text} is not an int: {FloatReturnedWithBeams}"
                : $"{returned.Text} {NoneReturnedWithBeams}", source);
        return o;
    }

    private const string FloatLengthWithBeams = "transformers' beam search sizes a tensor with the length, and full() refuses a float";
    private const string FloatReturnedWithBeams = "transformers slices the beams by it, which fails on a float (slice indices)";
    private const string NoneReturnedWithBeams = "is no count of beams to return: transformers slices the beams by it " +
        "(0 keeps none and fails in max() of an empty tensor; below 0 is refused here)";

    // A value the file's search without beams takes, which beam search chosen in code later refuses: kept for Validate.
    private static GenerationOptions WithBeamsCheck(GenerationOptions o, string key, string problem, string source) =>
        o with { FileChecks = GenerationFileChecks.Add(o.FileChecks, source, key, GenerationFileChecks.Search.Beams, problem) };

    // Only 1.0 picks greedy search or sampling; another float picks beam search, which fails on it (repeat_interleave()).
    private static int Beams(Number n, string source) => n.IsFloat && n.Value != 1
        ? throw Refused(source, "num_beams", n, "transformers' beam search takes the number of beams only as an int " +
            "(a float fails inside generate(): repeat_interleave() refuses it)")
        : AsInt(n, "num_beams", source);

    // Without beams transformers expands the inputs by max(num_beams, num_return_sequences) and uses it nowhere else, so
    // 0, false, 0.0 and below give one sequence per input, as 1 does. With beams it slices the beams by it: 0 keeps none
    // and fails (max() of an empty tensor), which Validate refuses; a float fails (slice indices).
    private static int Returned(Number n, bool beamSearch, string source) => !beamSearch && n.Value <= 0 ? 1
        : n.IsFloat && (beamSearch || n.Value != 1)
        ? throw Refused(source, "num_return_sequences", n, "transformers expands the inputs or slices the beams by it, " +
            "which fails on a float other than 1.0 without beams (repeat_interleave(), slice indices)")
        : AsInt(n, "num_return_sequences", source);

    // A float length is compared with the current length; beam search also sizes a tensor with it, which fails.
    private static int Length(Number n, string key, bool beamSearch, string source) => n.IsFloat && beamSearch
        ? throw Refused(source, key, n, "transformers' beam search sizes a tensor with the length, and full() refuses a float")
        : n.IsFloat ? AsInt(n with { Value = Math.Ceiling(n.Value) }, key, source) : AsInt(n, key, source);

    private static int MaxLength(Number n, bool beamSearch, string source) => n.IsBool
        ? throw Refused(source, "max_length", n, "transformers compares it as 1 or 0 with the prompt, which BLIP makes at " +
            "least one token long, and refuses it ('Input length of input_ids is 1, but `max_length` is set to True')")
        : Length(n, "max_length", beamSearch, source);

    // transformers sets min_length to min_new_tokens plus the input's length (at least BLIP's bos) and builds its
    // MinLengthLogitsProcessor only above 0, where it refuses a float ('`min_length` has to be a non-negative integer, but
    // is 6.0'); a negative int gives a min_length below the input's length, which forbids nothing, as 0 does, and both still
    // replace min_length. A float above -1 is refused for every input; one at or below -1 forbids nothing, and is refused
    // by TextGenerator where the input is longer than minus it (FloatMinNewTokens).
    private static int MinNewTokens(Number n, string source) => n.IsFloat && n.Value > -1
        ? throw Refused(source, "min_new_tokens", n, "transformers' MinLengthLogitsProcessor takes min_new_tokens plus the " +
            "prompt's length only as an int ('`min_length` has to be a non-negative integer, but is 6.0')")
        : n.Value < 0 ? 0 : AsInt(n, "min_new_tokens", source);

    // The processor is built only above 0, and then takes only an int.
    private static int OnAbove0(Number n, string key, string processor, string source) => !n.IsFloat ? AsInt(n, key, source)
        : n.Value > 0 ? throw Refused(source, key, n, $"transformers' {processor} takes only an int, and refuses it at generate()")
        : 0;

    // Read only when sampling; 0 (0.0, false) builds no warper, also when code turns sampling on later; another float or
    // a bool fails in TopKLogitsWarper or topk(): refused when the file samples, else kept for when code makes it sample.
    private static int TopK(Number n, GenerationOptions o, string source) => !n.IsFloat && !n.IsBool ? AsInt(n, "top_k", source)
        : n.Value == 0 ? 0
        : o.DoSample ? throw new ConfigException(source, "top_k", TopKProblem(n)!)
        : o.TopK;

    private static string? TopKProblem(Number n) => (n.IsFloat || n.IsBool) && n.Value != 0
        ? $"{n.Text} is not an int: transformers' TopKLogitsWarper takes only an int when sampling (a float is refused, a " +
          "bool fails in torch.topk())"
        : null;

    private static int AsInt(Number n, string key, string source) => n.Value is >= int.MinValue and <= int.MaxValue
        ? (int)n.Value
        : throw new ConfigException(source, key, $"must be an integer (32-bit), got {n.Text}");

    private static ConfigException Refused(string source, string key, Number n, string why) =>
        new(source, key, $"{n.Text} is not an int: {why}");

    /// <summary>The number or bool of <paramref name="key"/>, null when absent or null; another kind, or an int beyond
    /// 32 bits, is a <see cref="ConfigException"/> naming the key.</summary>
    private static Number? Read(JsonObject root, string key, string source)
    {
        if (root[key] is not { } v || v.GetValueKind() == JsonValueKind.Null) return null;
        using var document = JsonDocument.Parse(v.ToJsonString());
        var e = document.RootElement;
        string text = ConfigFieldTypes.Describe(e);
        return e.ValueKind switch
        {
            JsonValueKind.True or JsonValueKind.False => new Number(e.ValueKind == JsonValueKind.True ? 1 : 0, false, true, text),
            JsonValueKind.Number when !ConfigFieldTypes.IsInt(e) => new Number(e.GetDouble(), true, false, text),
            JsonValueKind.Number when e.TryGetInt32(out int i) => new Number(i, false, false, text),
            _ => throw new ConfigException(source, key, $"must be an integer (32-bit), got {v.ToJsonString()}"),
        };
    }

    private static void RefuseTokenIds(JsonObject root, string source)
    {
        if (root["pad_token_id"] is { } pad && pad.GetValueKind() is not (JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
            throw new ConfigException(source, "pad_token_id", $"{pad.ToJsonString()} is not a number: transformers' " +
                "GenerationConfig compares pad_token_id with 0 at load and fails ('<' not supported)");
        foreach (string key in new[] { "bos_token_id", "decoder_start_token_id" })
            if (root[key] is { } id && Shape(id) is null)
                throw new ConfigException(source, key, $"{id.ToJsonString()} is not a number or a rectangular list of " +
                    "numbers: transformers' generate() makes a long tensor of it, which fails");
    }

    // What torch.tensor(value) sees: "" for a number or bool, "2,1," for [[5], [6]]; null where it fails (a string, an
    // object, null inside a list, a ragged list).
    private static string? Shape(JsonNode? node) => node?.GetValueKind() switch
    {
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => "",
        JsonValueKind.Array => node.AsArray().Select(Shape).Distinct().ToList() switch
        {
            [] => "0",
            [{ } inner] => $"{node.AsArray().Count},{inner}",
            _ => null,
        },
        _ => null,
    };
}
