// The JSON kinds transformers 5.12 accepts for each field of a BLIP config.json. Its configs are @strict dataclasses
// (huggingface_hub): a field declared int refuses 12.0, "12" and true; one declared float refuses 0 and "1e-12"; one
// declared bool refuses 0/1 and "true"; null only where the declaration says "| None". Every field is checked, also those
// Blip.Engine does not use (initializer_factor, use_cache, problem_type...): transformers refuses the file for them too.
using System.Text.Json;

namespace Blip.Engine.Config;

/// <summary>Checks the JSON value kinds of <c>config.json</c> against transformers' field declarations.</summary>
internal static class ConfigFieldTypes
{
    [Flags]
    private enum Kind
    {
        Int = 1,             // a JSON number Python reads as int: no '.', no exponent
        Float = 2,           // a JSON number Python reads as float
        Bool = 4,
        Str = 8,
        Null = 16,
        IntList = 32,
        StrList = 64,
        Object = 128,
        StrValues = 256,     // dict[str, str]
        IntValues = 512,     // dict[str, int]
        ProblemType = 1024,  // Literal["regression", "single_label_classification", "multi_label_classification"]
    }

    // PreTrainedConfig's own fields, in every config and sub-config.
    private static readonly Dictionary<string, Kind> Common = new()
    {
        ["transformers_version"] = Kind.Str | Kind.Null,
        ["architectures"] = Kind.StrList | Kind.Null,
        ["output_hidden_states"] = Kind.Bool | Kind.Null,
        ["return_dict"] = Kind.Bool | Kind.Null,
        ["dtype"] = Kind.Str | Kind.Null,
        ["chunk_size_feed_forward"] = Kind.Int,
        ["is_encoder_decoder"] = Kind.Bool,
        ["id2label"] = Kind.StrValues | Kind.Null,
        ["label2id"] = Kind.IntValues | Kind.StrValues | Kind.Null,
        ["problem_type"] = Kind.ProblemType | Kind.Null,
    };

    private static readonly Dictionary<string, Kind> Top = new()
    {
        ["text_config"] = Kind.Object | Kind.Null,
        ["vision_config"] = Kind.Object | Kind.Null,
        ["projection_dim"] = Kind.Int,
        ["logit_scale_init_value"] = Kind.Float,
        ["image_text_hidden_size"] = Kind.Int,
        ["label_smoothing"] = Kind.Float,
        ["tie_word_embeddings"] = Kind.Bool,
        ["initializer_factor"] = Kind.Float,
        ["initializer_range"] = Kind.Float,
    };

    private static readonly Dictionary<string, Kind> Text = new()
    {
        ["vocab_size"] = Kind.Int,
        ["hidden_size"] = Kind.Int,
        ["encoder_hidden_size"] = Kind.Int,
        ["intermediate_size"] = Kind.Int,
        ["projection_dim"] = Kind.Int,
        ["num_hidden_layers"] = Kind.Int,
        ["num_attention_heads"] = Kind.Int,
        ["max_position_embeddings"] = Kind.Int,
        ["hidden_act"] = Kind.Str,
        ["layer_norm_eps"] = Kind.Float,
        ["hidden_dropout_prob"] = Kind.Float | Kind.Int,
        ["attention_probs_dropout_prob"] = Kind.Float | Kind.Int,
        ["initializer_range"] = Kind.Float,
        ["bos_token_id"] = Kind.Int | Kind.Null,
        ["eos_token_id"] = Kind.Int | Kind.IntList | Kind.Null,
        ["pad_token_id"] = Kind.Int | Kind.Null,
        ["sep_token_id"] = Kind.Int | Kind.Null,
        ["is_decoder"] = Kind.Bool,
        ["use_cache"] = Kind.Bool,
        ["tie_word_embeddings"] = Kind.Bool,
        ["label_smoothing"] = Kind.Float,
    };

    // image_size and patch_size are declared int | list[int] | tuple[int, int], but BlipVisionEmbeddings computes
    // image_size // patch_size, which fails on a list: only an int builds a model.
    private static readonly Dictionary<string, Kind> Vision = new()
    {
        ["hidden_size"] = Kind.Int,
        ["intermediate_size"] = Kind.Int,
        ["projection_dim"] = Kind.Int,
        ["num_hidden_layers"] = Kind.Int,
        ["num_attention_heads"] = Kind.Int,
        ["image_size"] = Kind.Int,
        ["patch_size"] = Kind.Int,
        ["hidden_act"] = Kind.Str,
        ["layer_norm_eps"] = Kind.Float,
        ["attention_dropout"] = Kind.Float | Kind.Int,
        ["initializer_range"] = Kind.Float,
    };

    /// <summary>Throws <see cref="ConfigException"/> naming the first field whose value transformers would refuse.</summary>
    internal static void Check(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) return;  // the deserializer names what the whole file is
        CheckObject(root, "", "BlipConfig", Top, source);
        foreach (var (name, fields, cls) in new[] { ("text_config", Text, "BlipTextConfig"), ("vision_config", Vision, "BlipVisionConfig") })
            if (root.TryGetProperty(name, out var sub) && sub.ValueKind == JsonValueKind.Object)
                CheckObject(sub, name + ".", cls, fields, source);
    }

    /// <summary>Whether Python's json reads <paramref name="v"/> as an int (a number without '.', 'e' or 'E'):
    /// transformers' generation processors that take a float (temperature, repetition_penalty) refuse one.</summary>
    internal static bool IsInt(JsonElement v) => KindOf(v) == Kind.Int;

    private static void CheckObject(JsonElement node, string prefix, string cls, Dictionary<string, Kind> fields, string source)
    {
        foreach (var p in node.EnumerateObject())
        {
            if (!fields.TryGetValue(p.Name, out var allowed) && !Common.TryGetValue(p.Name, out allowed)) continue;
            if ((KindOf(p.Value) & allowed) == 0)
                throw new ConfigException(source, prefix + p.Name,
                    $"{Describe(p.Value)} is not {Expected(allowed)}: transformers' {cls} declares {p.Name} so and refuses the file");
        }
    }

    private static Kind KindOf(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Number => v.GetRawText().AsSpan().IndexOfAny(".eE") >= 0 ? Kind.Float : Kind.Int,
        JsonValueKind.True or JsonValueKind.False => Kind.Bool,
        JsonValueKind.String => v.GetString() is "regression" or "single_label_classification" or "multi_label_classification"
            ? Kind.Str | Kind.ProblemType : Kind.Str,
        JsonValueKind.Null => Kind.Null,
        JsonValueKind.Array => ListKind(v),
        JsonValueKind.Object => DictKind(v),
        _ => 0,
    };

    // An empty list is a list of anything.
    private static Kind ListKind(JsonElement v)
    {
        var items = v.EnumerateArray().Select(KindOf).ToList();
        return (items.All(k => k == Kind.Int) ? Kind.IntList : 0) | (items.All(k => (k & Kind.Str) != 0) ? Kind.StrList : 0);
    }

    private static Kind DictKind(JsonElement v)
    {
        var values = v.EnumerateObject().Select(p => KindOf(p.Value)).ToList();
        return Kind.Object | (values.All(k => (k & Kind.Str) != 0) ? Kind.StrValues : 0) | (values.All(k => k == Kind.Int) ? Kind.IntValues : 0);
    }

    /// <summary>The value as written (cut at 40 characters) and the kind transformers sees, e.g. <c>2 (an int)</c>.</summary>
    internal static string Describe(JsonElement v)
    {
        string text = v.GetRawText();
        if (text.Length > 40) text = text[..40] + "…";
        string what = KindOf(v) switch
        {
            Kind.Int => "an int",
            Kind.Float => "a float",
            Kind.Bool => "a boolean",
            var k when (k & Kind.Str) != 0 => "a string",
            Kind.Null => "null",
            _ when v.ValueKind == JsonValueKind.Array => "a list",
            _ => "an object",
        };
        return $"{text} ({what})";
    }

    private static string Expected(Kind allowed)
    {
        var names = new List<string>();
        if (allowed.HasFlag(Kind.Int)) names.Add("an int");
        if (allowed.HasFlag(Kind.Float)) names.Add("a float (with a decimal point or an exponent)");
        if (allowed.HasFlag(Kind.Bool)) names.Add("true or false");
        if (allowed.HasFlag(Kind.Str)) names.Add("a string");
        if (allowed.HasFlag(Kind.ProblemType)) names.Add("\"regression\", \"single_label_classification\" or \"multi_label_classification\"");
        if (allowed.HasFlag(Kind.IntList)) names.Add("a list of ints");
        if (allowed.HasFlag(Kind.StrList)) names.Add("a list of strings");
        if (allowed.HasFlag(Kind.Object)) names.Add("an object");
        if (allowed.HasFlag(Kind.StrValues)) names.Add("an object of strings");
        if (allowed.HasFlag(Kind.IntValues)) names.Add("an object of ints");
        if (allowed.HasFlag(Kind.Null)) names.Add("null");
        return names.Count == 1 ? names[0] : string.Join(", ", names[..^1]) + " or " + names[^1];
    }
}
