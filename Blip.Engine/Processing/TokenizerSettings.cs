// The tokenizer settings of a model folder: tokenizer_config.json and special_tokens_map.json, as
// transformers' PreTrainedTokenizerBase reads them; absent files mean the BLIP Hub configuration.
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Config;

namespace Blip.Engine.Processing;

/// <summary>A token added on top of the WordPiece vocabulary (transformers' <c>AddedToken</c>).</summary>
internal sealed record AddedTokenSpec(int Id, string Content, bool Special, bool Normalized = false,
    bool LStrip = false, bool RStrip = false, bool SingleWord = false);

/// <summary>Settings read from <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c>.</summary>
internal sealed record TokenizerSettings
{
    private static readonly string[] NamedKeys = ["unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "bos_token", "eos_token"];

    /// <summary>transformers' <c>VERY_LARGE_INTEGER</c> stand-in when no <c>model_max_length</c> is given.</summary>
    public const int UnboundedLength = int.MaxValue;

    public bool DoLowerCase { get; init; } = true;
    public bool? StripAccents { get; init; }
    public bool TokenizeChineseChars { get; init; } = true;
    public int ModelMaxLength { get; init; } = 512;
    /// <summary>tokenizer_config.json's <c>max_length</c>: the length BlipProcessor truncates an unpadded call to.</summary>
    public int? ProcessorMaxLength { get; init; }
    public bool CleanUpTokenizationSpaces { get; init; }
    public string UnkToken { get; init; } = "[UNK]";
    public string SepToken { get; init; } = "[SEP]";
    public string PadToken { get; init; } = "[PAD]";
    public string ClsToken { get; init; } = "[CLS]";
    public string MaskToken { get; init; } = "[MASK]";
    /// <summary>bos_token; null when the files name none (the engine then looks for <c>[DEC]</c>, which transformers does not add).</summary>
    public string? BosToken { get; init; } = "[DEC]";
    public string? EosToken { get; init; }
    /// <summary>The extra special tokens (transformers 5's <c>extra_special_tokens</c>, formerly <c>additional_special_tokens</c>),
    /// in order, as the AddedTokens transformers adds: a string is special with no flags, an object keeps its flags (its ids are
    /// unused).</summary>
    public IReadOnlyList<AddedTokenSpec> ExtraSpecialTokens { get; init; } = [new(0, "[ENC]", Special: true)];

    /// <summary><c>padding_side</c> of tokenizer_config.json, or null when absent (tokenizer.json's padding direction,
    /// else right, decides).</summary>
    public TextSide? PaddingSide { get; init; }

    /// <summary><c>truncation_side</c> of tokenizer_config.json, or null when absent.</summary>
    public TextSide? TruncationSide { get; init; }

    /// <summary>transformers' model-specific special tokens (e.g. <c>image_token</c>) by key, in its order: named special
    /// tokens after the seven standard ones.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ModelSpecificTokens { get; init; } = [];

    /// <summary>The named special tokens given as AddedToken objects (by key, e.g. <c>mask_token</c>), with their flags;
    /// their ids are unused.</summary>
    public IReadOnlyDictionary<string, AddedTokenSpec> TokenObjects { get; init; } = new Dictionary<string, AddedTokenSpec>();

    /// <summary>The file that named each special token (by key, e.g. <c>pad_token</c>), for error messages.</summary>
    public IReadOnlyDictionary<string, string> TokenSources { get; init; } = new Dictionary<string, string>();

    /// <summary>Tokens with explicit ids (<c>added_tokens_decoder</c> of transformers ≥ 4.34 configs).</summary>
    public IReadOnlyList<AddedTokenSpec> AddedTokensDecoder { get; init; } = [];

    /// <summary>Whether tokenizer_config.json has <c>added_tokens_decoder</c> (then transformers ignores tokenizer.json's <c>added_tokens</c>).</summary>
    public bool HasAddedTokensDecoder { get; init; }

    /// <summary>
    /// The AddedTokens TokenizersBackend.__init__ adds for the special tokens no added_tokens list holds: the named ones in
    /// transformers' <c>SPECIAL_TOKENS_ATTRIBUTES</c> order, then the extras; several may share a content.
    /// </summary>
    /// <remarks>A named token is a plain special <c>AddedToken(token, special=True)</c>, or the object a config file gave it
    /// (special whatever it says); an extra keeps its own <c>special</c>, made true when its content is a named token's.</remarks>
    public IEnumerable<AddedTokenSpec> SpecialTokenSpecs()
    {
        var named = NamedByKey().ToList();
        var namedContents = named.Select(kv => kv.Value).ToHashSet(StringComparer.Ordinal);
        return named.Select(kv => TokenObjects.GetValueOrDefault(kv.Key) is { } o ? o with { Special = true } : new AddedTokenSpec(0, kv.Value, Special: true))
            .Concat(ExtraSpecialTokens.Select(e => namedContents.Contains(e.Content) ? e with { Special = true } : e));
    }

    /// <summary>bos, eos, unk, sep, pad, cls and mask (those named), in transformers' <c>SPECIAL_TOKENS_ATTRIBUTES</c> order,
    /// then the model-specific ones.</summary>
    public IEnumerable<string> NamedSpecialTokens() => NamedByKey().Select(kv => kv.Value);

    private IEnumerable<KeyValuePair<string, string>> NamedByKey()
    {
        (string Key, string? Token)[] named = [("bos_token", BosToken), ("eos_token", EosToken), ("unk_token", UnkToken),
            ("sep_token", SepToken), ("pad_token", PadToken), ("cls_token", ClsToken), ("mask_token", MaskToken)];
        return named.Where(n => n.Token is not null).Select(n => KeyValuePair.Create(n.Key, n.Token!)).Concat(ModelSpecificTokens);
    }

    /// <summary>
    /// The error for a special token that <paramref name="tokensFile"/> (tokenizer.json or vocab.txt) does not hold. It names
    /// the file that named the token under <paramref name="key"/> (e.g. <c>pad_token</c>), or the tokens file when no file
    /// named it (BLIP's default token).
    /// </summary>
    internal ConfigException MissingToken(string tokensFile, string key, string token) =>
        TokenSources.TryGetValue(key, out var named)
            ? new ConfigException(named, key, $"'{token}' is not a token of {tokensFile}")
            : new ConfigException(tokensFile, "", $"{key} '{token}' is not one of its tokens");

    /// <summary>
    /// Reads whichever of the two files exist, as transformers' <c>from_pretrained</c> merges them; neither (or null
    /// paths): BLIP's Hub values.
    /// </summary>
    /// <remarks>
    /// With either file, the defaults are BertTokenizer's: no bos and no extra special tokens. special_tokens_map.json is
    /// read only when tokenizer_config.json has no <c>added_tokens_decoder</c> (transformers 5 reads it as a legacy file
    /// then, and not at all otherwise); its named tokens replace the config's. The extra special tokens are the config's
    /// <c>extra_special_tokens</c>, else its <c>additional_special_tokens</c>, with the map's <c>extra_special_tokens</c>
    /// appended; the map's <c>additional_special_tokens</c> count only when the config names neither.
    /// </remarks>
    public static TokenizerSettings Read(string? tokenizerConfigPath, string? specialTokensMapPath)
    {
        bool hasConfig = tokenizerConfigPath is not null && File.Exists(tokenizerConfigPath);
        bool hasMap = specialTokensMapPath is not null && File.Exists(specialTokensMapPath);
        if (!hasConfig && !hasMap)
            return new TokenizerSettings();
        var settings = new TokenizerSettings { BosToken = null, ExtraSpecialTokens = [] };
        IReadOnlyList<AddedTokenSpec>? extras = null;
        JsonObject? config = null, map = null;
        if (hasConfig)
        {
            config = ReadObject(tokenizerConfigPath!);
            settings = settings.WithNamedTokens(config, tokenizerConfigPath!).WithConfig(config, tokenizerConfigPath!);
            extras = TokenList(config, "extra_special_tokens", tokenizerConfigPath!, mapDict: false)
                ?? TokenList(config, "additional_special_tokens", tokenizerConfigPath!, mapDict: false);
        }
        IReadOnlyList<AddedTokenSpec>? mapAdditional = null;
        if (hasMap && !settings.HasAddedTokensDecoder)
        {
            map = ReadObject(specialTokensMapPath!);
            settings = settings.WithNamedTokens(map, specialTokensMapPath!);
            // from_pretrained appends each of the map's extras not equal to one already there (an AddedToken equals one
            // with the same content and flags).
            if (TokenList(map, "extra_special_tokens", specialTokensMapPath!, mapDict: true) is { } appended)
                extras = appended.Aggregate((extras ?? []).ToList(), (list, t) => { if (!list.Contains(t)) list.Add(t); return list; });
            mapAdditional = TokenList(map, "additional_special_tokens", specialTokensMapPath!, mapDict: true);
        }
        return settings.WithModelTokens(ModelTokenNodes(config, tokenizerConfigPath, map, specialTokensMapPath))
            with { ExtraSpecialTokens = extras ?? mapAdditional ?? [] };
    }

    // transformers' model-specific special tokens: the other keys ending in "_token" whose value is a token (a string,
    // or an AddedToken object). Their order is PreTrainedTokenizerBase.__init__'s {**auto, **explicit}: the config's
    // object-valued ones and the map's (in place when the config has the key, else after), then the config's
    // string-valued ones not among them; for a key in both files the config's string wins.
    private static List<(string Key, JsonNode Node, string Path)> ModelTokenNodes(JsonObject? config, string? configPath, JsonObject? map, string? mapPath)
    {
        var auto = new List<(string Key, JsonNode Node, string Path)>();
        var explicitTokens = new List<(string Key, JsonNode Node, string Path)>();
        foreach (var (key, node) in ModelTokenEntries(config))
            (node is JsonObject ? auto : explicitTokens).Add((key, node, configPath!));
        foreach (var (key, node) in ModelTokenEntries(map))
        {
            int i = auto.FindIndex(t => t.Key == key);
            if (i >= 0)
                auto[i] = (key, node, mapPath!);
            else
                auto.Add((key, node, mapPath!));
        }
        foreach (var token in explicitTokens)
        {
            int i = auto.FindIndex(t => t.Key == token.Key);
            if (i >= 0)
                auto[i] = token;
            else
                auto.Add(token);
        }
        return auto;
    }

    private static IEnumerable<(string Key, JsonNode Node)> ModelTokenEntries(JsonObject? json) =>
        (json ?? []).Where(kv => kv.Key.EndsWith("_token", StringComparison.Ordinal) && !NamedKeys.Contains(kv.Key)
            && (kv.Value is JsonObject || (kv.Value is JsonValue v && v.TryGetValue(out string? _))))
            .Select(kv => (kv.Key, kv.Value!));

    private TokenizerSettings WithModelTokens(List<(string Key, JsonNode Node, string Path)> tokens)
    {
        var objects = new Dictionary<string, AddedTokenSpec>(TokenObjects);
        var sources = new Dictionary<string, string>(TokenSources);
        var named = new List<KeyValuePair<string, string>>();
        foreach (var (key, node, path) in tokens)
        {
            string content = TokenText(node, key, path)!;
            named.Add(KeyValuePair.Create(key, content));
            sources[key] = path;
            if (node is JsonObject o)
                objects[key] = TokenObject(o, content);
        }
        return this with { ModelSpecificTokens = named, TokenObjects = objects, TokenSources = sources };
    }

    private static AddedTokenSpec TokenObject(JsonObject o, string content) =>
        new(0, content, true, Flag(o, "normalized"), Flag(o, "lstrip"), Flag(o, "rstrip"), Flag(o, "single_word"));

    private TokenizerSettings WithNamedTokens(JsonObject json, string path)
    {
        var sources = new Dictionary<string, string>(TokenSources);
        var objects = new Dictionary<string, AddedTokenSpec>(TokenObjects);
        foreach (var key in NamedKeys)
        {
            if (json[key] is null)
                continue;
            sources[key] = path;
            if (json[key] is JsonObject o && TokenText(json, key, path) is { } content)
                objects[key] = TokenObject(o, content);
            else
                objects.Remove(key);
        }
        return this with
        {
            UnkToken = TokenText(json, "unk_token", path) ?? UnkToken,
            SepToken = TokenText(json, "sep_token", path) ?? SepToken,
            PadToken = TokenText(json, "pad_token", path) ?? PadToken,
            ClsToken = TokenText(json, "cls_token", path) ?? ClsToken,
            MaskToken = TokenText(json, "mask_token", path) ?? MaskToken,
            BosToken = TokenText(json, "bos_token", path) ?? BosToken,
            EosToken = TokenText(json, "eos_token", path) ?? EosToken,
            TokenSources = sources,
            TokenObjects = objects,
        };
    }

    private TokenizerSettings WithConfig(JsonObject json, string path) => RefuseSplitSpecialTokens(json, path) with
    {
        DoLowerCase = Bool(json, "do_lower_case", path) ?? DoLowerCase,
        StripAccents = Bool(json, "strip_accents", path),
        TokenizeChineseChars = Bool(json, "tokenize_chinese_chars", path) ?? TokenizeChineseChars,
        ModelMaxLength = MaxLength(json, path),
        ProcessorMaxLength = OptionalLength(json, "max_length", path),
        CleanUpTokenizationSpaces = Bool(json, "clean_up_tokenization_spaces", path) ?? false,
        AddedTokensDecoder = AddedTokens(json, path),
        HasAddedTokensDecoder = json["added_tokens_decoder"] is not null,
        PaddingSide = Side(json, "padding_side", path),
        TruncationSide = Side(json, "truncation_side", path),
    };

    // transformers sets the tokenizers library's encode_special_tokens from it, so that "[SEP]" in a text is WordPiece'd;
    // Tokenizers.DotNet cannot set that flag, and encoding as if it were false would give other ids without a word.
    private TokenizerSettings RefuseSplitSpecialTokens(JsonObject json, string path) => Bool(json, "split_special_tokens", path) == true
        ? throw new ConfigException(path, "split_special_tokens", "true (special tokens in a text split as words) is not supported")
        : this;

    // transformers raises ValueError for any other value ("Padding side should be selected between 'right' and 'left'").
    private static TextSide? Side(JsonObject json, string key, string path) => json[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) && s == "right" => TextSide.Right,
        JsonValue v when v.TryGetValue(out string? s) && s == "left" => TextSide.Left,
        var other => throw new ConfigException(path, key, $"must be \"right\" or \"left\", not {other.ToJsonString()}"),
    };

    /// <summary>Reads a JSON object; a key given twice keeps its last value, as python's json and serde do.</summary>
    internal static JsonObject ReadObject(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(Utf8Text.Read(path));
            return ToNode(doc.RootElement) as JsonObject
                ?? throw new ConfigException(path, "", "expected a JSON object at the top level");
        }
        catch (JsonException e)
        {
            throw new ConfigException(path, "", $"not valid JSON ({e.Message})", e);
        }
        catch (InvalidOperationException e) // a key or string escaping a lone surrogate ("\ud800"), which is not text
        {
            throw new ConfigException(path, "", $"holds a string that is not text ({e.Message})", e);
        }
    }

    // JsonNode.Parse would throw on a repeated key only when the object is first read, outside any handler.
    private static JsonNode? ToNode(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var obj = new JsonObject();
                foreach (var p in e.EnumerateObject())
                    obj[p.Name] = ToNode(p.Value);
                return obj;
            case JsonValueKind.Array:
                return new JsonArray([.. e.EnumerateArray().Select(ToNode)]);
            case JsonValueKind.String:
                return JsonValue.Create(e.GetString()); // decoded here, so a lone surrogate fails inside ReadObject
            default:
                return JsonValue.Create(e.Clone());
        }
    }

    private static bool? Bool(JsonObject json, string key, string path) => json[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        var other => throw new ConfigException(path, key, $"must be true, false or null, not {other.ToJsonString()}"),
    };

    private static int MaxLength(JsonObject json, string path) => json["model_max_length"] switch
    {
        null => UnboundedLength,
        JsonValue v when v.TryGetValue(out long n) && n > 0 => n >= int.MaxValue ? UnboundedLength : (int)n,
        // transformers writes int(1e30) when unbounded; that does not fit a long.
        JsonValue v when v.TryGetValue(out double d) && d >= int.MaxValue => UnboundedLength,
        var other => throw new ConfigException(path, "model_max_length", $"must be a positive integer, not {other.ToJsonString()}"),
    };

    /// <summary>A positive integer length, or null when the key is absent or null.</summary>
    internal static int? OptionalLength(JsonObject json, string key, string path) => json[key] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out long n) && n is > 0 and <= int.MaxValue => (int)n,
        var other => throw new ConfigException(path, key, $"must be a positive integer or null, not {other.ToJsonString()}"),
    };

    private static string? TokenText(JsonObject json, string key, string path) => TokenText(json[key], key, path);

    // field: where the node is, for the error (a key, or key[i] in a list).
    private static string? TokenText(JsonNode? node, string field, string path) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject o when o["content"] is JsonValue c && c.TryGetValue(out string? s) => s,
        var other => throw new ConfigException(path, field, $"must be a string or an AddedToken object, not {other.ToJsonString()}"),
    };

    // A list of extra special tokens. A string is AddedToken(s, special=True); an object keeps its flags, and its "special"
    // as given in tokenizer_config.json, while from_pretrained makes one of special_tokens_map.json (mapDict) special.
    private static AddedTokenSpec[]? TokenList(JsonObject json, string key, string path, bool mapDict)
    {
        if (json[key] is null)
            return null;
        if (json[key] is not JsonArray array)
            throw new ConfigException(path, key, $"must be a list of tokens, not {json[key]!.ToJsonString()}");
        return array.Select((item, i) =>
        {
            string content = TokenText(item, $"{key}[{i}]", path) ?? throw new ConfigException(path, $"{key}[{i}]", "is null, not a token");
            return item is JsonObject o
                ? new AddedTokenSpec(0, content, mapDict || Flag(o, "special"), Flag(o, "normalized"), Flag(o, "lstrip"), Flag(o, "rstrip"), Flag(o, "single_word"))
                : new AddedTokenSpec(0, content, Special: true);
        }).ToArray();
    }

    private static AddedTokenSpec[] AddedTokens(JsonObject json, string path)
    {
        if (json["added_tokens_decoder"] is not JsonObject decoder)
            return [];
        return decoder.Select(kv =>
        {
            if (!int.TryParse(kv.Key, out int id) || id < 0 || kv.Value is not JsonObject t
                || t["content"] is not JsonValue c || !c.TryGetValue(out string? content))
                throw new ConfigException(path, $"added_tokens_decoder.{kv.Key}", "needs a non-negative integer id as its key and a string 'content'");
            return new AddedTokenSpec(id, content, Flag(t, "special"), Flag(t, "normalized"),
                Flag(t, "lstrip"), Flag(t, "rstrip"), Flag(t, "single_word"));
        }).ToArray();
    }

    private static bool Flag(JsonObject token, string key) =>
        token[key] is JsonValue v && v.TryGetValue(out bool b) && b;
}
