// tokenizer.json documents: read one from a model folder, or build one from vocab.txt and the configs
// the way transformers' BertTokenizer (tokenization_bert.py) builds its Rust tokenizer, and derive the
// variants the native library needs (it always adds special tokens and always skips them on decode).
using System.Text.Json.Nodes;
using Blip.Engine.Config;

namespace Blip.Engine.Processing;

/// <summary>A parsed <c>tokenizer.json</c> with its id ↔ token tables.</summary>
internal sealed class TokenizerJson
{
    private TokenizerJson(JsonObject root, string source, Dictionary<string, int> tokenToId, string?[] idToToken)
    {
        Root = root;
        Source = source;
        TokenToId = tokenToId;
        IdToToken = idToToken;
        SpecialTokens = AddedTokenNodes().Where(a => a["special"] is JsonValue v && v.TryGetValue(out bool b) && b)
            .Select(a => Text(a["content"])!).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The whole document.</summary>
    public JsonObject Root { get; }

    /// <summary>Where it came from, for error messages.</summary>
    public string Source { get; }

    /// <summary>Vocabulary and added tokens.</summary>
    public IReadOnlyDictionary<string, int> TokenToId { get; }

    /// <summary>Token of each id (null for ids that name nothing), as the tokenizers library's <c>id_to_token</c> gives it.</summary>
    public IReadOnlyList<string?> IdToToken { get; }

    /// <summary>The contents of the added tokens marked special: decode skips a token whose text is one of them.</summary>
    public IReadOnlySet<string> SpecialTokens { get; }

    /// <summary>The <c>padding</c> section's direction, or null when the file sets no padding (transformers takes it as
    /// the default <c>padding_side</c> when tokenizer_config.json names none).</summary>
    public TextSide? PaddingDirection => Direction("padding");

    /// <summary>The <c>truncation</c> section's direction, or null when the file sets no truncation.</summary>
    public TextSide? TruncationDirection => Direction("truncation");

    /// <summary>The length the file's <c>truncation</c> section truncates to, else its <c>padding</c> section's fixed
    /// length, else null: what transformers' TokenizersBackend takes as the tokenizer's default <c>max_length</c>.</summary>
    public int? DefaultMaxLength =>
        (Root["truncation"] as JsonObject is { } t ? TokenizerSettings.OptionalLength(t, "max_length", Source + " (truncation)") : null)
        ?? (Root["padding"] as JsonObject is { } p && p["strategy"] is JsonObject fixedLength
            ? TokenizerSettings.OptionalLength(fixedLength, "Fixed", Source + " (padding.strategy)") : null);

    /// <summary>Reads a <c>tokenizer.json</c> file with a WordPiece model.</summary>
    public static TokenizerJson Read(string path) => Create(TokenizerSettings.ReadObject(path), path);

    /// <summary>
    /// Builds the document transformers 5's BertTokenizer makes from a <c>tokenizer.json</c>: only its
    /// <c>model.vocab</c>, <c>added_tokens</c>, <c>truncation</c> and <c>padding</c> are kept; normalizer,
    /// pre-tokenizer, WordPiece model, decoder and post-processor come from <paramref name="settings"/>, as from vocab.txt.
    /// </summary>
    /// <remarks>
    /// <c>TokenizersBackend.convert_to_native_format</c> hands BertTokenizer the file's vocab (and its post-processor,
    /// padding and truncation); <c>BertTokenizer.__init__</c> then builds a new WordPiece (100 characters, the config's
    /// unk token), BertNormalizer, BertPreTokenizer and WordPiece decoder, and replaces the post-processor with
    /// <c>[CLS] $A [SEP]</c> once the special tokens are known. The file's other sections are still read by the
    /// tokenizers library, so one it cannot parse is refused here too.
    /// </remarks>
    public static TokenizerJson FromTokenizerJson(string path, TokenizerSettings settings)
    {
        var file = Read(path);
        if (file.Root["post_processor"] is JsonObject)
            file.SingleTemplate(checkIds: false);
        var vocab = ((JsonObject)file.Root["model"]!["vocab"]!).ToDictionary(kv => kv.Key, kv => (int)Integer(kv.Value)!, StringComparer.Ordinal);
        // from_pretrained reads the file's added_tokens only when tokenizer_config.json has no added_tokens_decoder.
        // Either way they are a dict by id, added in id order whatever the file's order (the last of one id wins).
        var listed = (settings.HasAddedTokensDecoder ? settings.AddedTokensDecoder : file.FileAddedTokens())
            .GroupBy(a => a.Id).Select(g => g.Last()).OrderBy(a => a.Id);
        return Build(vocab, AddedTokens(vocab, listed, settings), settings, path, file.Root["truncation"]?.DeepClone(), file.Root["padding"]?.DeepClone());
    }

    /// <summary>Builds the document transformers 5 makes for a BertTokenizer from vocab.txt and its configs.</summary>
    public static TokenizerJson FromVocabulary(string vocabPath, TokenizerSettings settings)
    {
        var vocab = ReadVocabulary(vocabPath);
        return Build(vocab, AddedTokens(vocab, settings.AddedTokensDecoder.OrderBy(a => a.Id), settings), settings, vocabPath, truncation: null, padding: null);
    }

    // BertTokenizer.__init__ (tokenization_bert.py): the tokenizer it builds from a vocabulary and its settings.
    private static TokenizerJson Build(Dictionary<string, int> vocab, JsonArray addedTokens, TokenizerSettings settings, string source,
        JsonNode? truncation, JsonNode? padding)
    {
        if (!vocab.ContainsKey(settings.UnkToken))
            throw settings.MissingToken(source, "unk_token", settings.UnkToken);
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = truncation,
            ["padding"] = padding,
            ["added_tokens"] = addedTokens,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer",
                ["clean_text"] = true,
                ["handle_chinese_chars"] = settings.TokenizeChineseChars,
                ["strip_accents"] = settings.StripAccents,
                ["lowercase"] = settings.DoLowerCase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = Template(settings, vocab, source),
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece",
                ["unk_token"] = settings.UnkToken,
                ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100,
                ["vocab"] = new JsonObject(vocab.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            },
        };
        return Create(root, source);
    }

    /// <summary>The document the native library loads to encode: no post-processor, truncation or padding (this class
    /// applies those itself).</summary>
    public string NativeDocument()
    {
        var copy = (JsonObject)Root.DeepClone();
        copy["post_processor"] = null;
        copy["truncation"] = null;
        copy["padding"] = null;
        return copy.ToJsonString();
    }

    /// <summary><see cref="NativeDocument"/> with no added token normalized, or null when none is: each added token's content
    /// then encodes as that token alone.</summary>
    public string? UnnormalizedAddedTokensDocument()
    {
        if (!AddedTokenNodes().Any(IsNormalized))
            return null;
        var copy = (JsonObject)JsonNode.Parse(NativeDocument())!;
        foreach (var a in ((JsonArray)copy["added_tokens"]!).OfType<JsonObject>())
            a["normalized"] = false;
        return copy.ToJsonString();
    }

    /// <summary>
    /// The ids the post-processor puts before and after a single sequence: [CLS] and [SEP] for BERT
    /// (TemplateProcessing as transformers 5 writes it, or the older BertProcessing).
    /// </summary>
    /// <param name="checkIds">Require each id to name a token (the tokenizers library itself does not).</param>
    public (int[] Prefix, int[] Suffix) SingleTemplate(bool checkIds = true)
    {
        int TemplateId(JsonNode? node, string what) => checkIds ? NamedTokenId(node, what)
            : Integer(node) is long id ? (int)id : throw new ConfigException(Source, what, $"holds {node?.ToJsonString() ?? "nothing"}, which is not an id");
        var post = Root["post_processor"] as JsonObject
            ?? throw new ConfigException(Source, "post_processor", "is missing, so the special tokens to add are unknown");
        switch (Text(post["type"]))
        {
            case "BertProcessing":
                return ([TemplateId((post["cls"] as JsonArray)?.ElementAtOrDefault(1), "post_processor.cls")],
                    [TemplateId((post["sep"] as JsonArray)?.ElementAtOrDefault(1), "post_processor.sep")]);
            case "TemplateProcessing":
                var prefix = new List<int>();
                var suffix = new List<int>();
                bool seenA = false;
                var single = post["single"] as JsonArray
                    ?? throw new ConfigException(Source, "post_processor.single", $"must be a list of pieces, got {post["single"]?.ToJsonString() ?? "null"}");
                foreach (var node in single)
                {
                    var piece = node as JsonObject
                        ?? throw new ConfigException(Source, "post_processor.single", $"unreadable piece {node?.ToJsonString() ?? "null"}");
                    if (piece["Sequence"] is not null) { seenA = true; continue; }
                    var name = Text((piece["SpecialToken"] as JsonObject)?["id"])
                        ?? throw new ConfigException(Source, "post_processor.single", $"unreadable piece {piece.ToJsonString()}");
                    var ids = ((post["special_tokens"] as JsonObject)?[name] as JsonObject)?["ids"] as JsonArray
                        ?? throw new ConfigException(Source, "post_processor.special_tokens", $"has no '{name}' with 'ids'");
                    (seenA ? suffix : prefix).AddRange(ids.Select(id => TemplateId(id, $"post_processor.special_tokens['{name}'].ids")));
                }
                return ([.. prefix], [.. suffix]);
            case var other:
                throw new ConfigException(Source, "post_processor.type", $"'{other}' is not supported (BERT uses TemplateProcessing or BertProcessing)");
        }
    }

    private static bool HasPrecompiled(JsonNode? node) => node switch
    {
        JsonObject o => Text(o["type"]) == "Precompiled" || o.Any(kv => HasPrecompiled(kv.Value)),
        JsonArray a => a.Any(HasPrecompiled),
        _ => false,
    };

    // An id the post-processor adds: it must name a token, or the model would see an id outside its embeddings.
    private int NamedTokenId(JsonNode? node, string what) =>
        Integer(node) is long id && id >= 0 && id < IdToToken.Count && IdToToken[(int)id] is not null ? (int)id
        : throw new ConfigException(Source, what, $"holds {node?.ToJsonString() ?? "nothing"}, which is not the id of a token");

    private static TokenizerJson Create(JsonObject root, string source)
    {
        if (root["model"] is not JsonObject model || Text(model["type"]) != "WordPiece" || model["vocab"] is not JsonObject vocab)
            throw new ConfigException(source, "model", "expected a WordPiece model with a 'vocab' object (BERT tokenizer)");
        // The native library panics, aborting the process, on a bad SentencePiece charsmap (at load or at the first
        // encode); no BERT tokenizer has one.
        if (HasPrecompiled(root["normalizer"]))
            throw new ConfigException(source, "normalizer", "holds a Precompiled (SentencePiece) normalizer, which a BERT tokenizer has not");
        var tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        var vocabToken = new Dictionary<int, string>();
        foreach (var (token, node) in vocab)
        {
            int id = TokenId(node, $"model.vocab['{token}']", source);
            if (!vocabToken.TryAdd(id, token))
                throw new ConfigException(source, "model.vocab", $"gives id {id} to both '{vocabToken[id]}' and '{token}'");
            tokenToId[token] = id;
        }
        var added = root["added_tokens"] as JsonArray ?? [];
        for (int i = 0; i < added.Count; i++)
        {
            if (added[i] is not JsonObject a || Text(a["content"]) is not { } content)
                throw new ConfigException(source, $"added_tokens[{i}]", "must be an object with a string 'content'");
            tokenToId[content] = TokenId(a["id"], $"added_tokens[{i}].id", source);
        }
        return new TokenizerJson(root, source, tokenToId, IdTable(tokenToId));
    }

    /// <summary>
    /// This document with each added token at the id the tokenizers library gives it: the library ignores the ids
    /// of <c>added_tokens</c> (numbering new tokens from the vocabulary's size), and transformers takes the library's.
    /// </summary>
    /// <remarks>The text of an id of a "normalized" added token is its normalized content, as tokenizers 0.23 (which
    /// transformers 5.12 runs on) stores it: <c>convert_ids_to_tokens</c> and decode give "[dec]" for a normalized
    /// "[DEC]" of an uncased tokenizer, and decode skips it only when that text is the content of a special token.
    /// The native library (0.22) keeps the content as written, so decoding is done from this table.</remarks>
    /// <param name="encode">Encodes a text with the native tokenizer of this document.</param>
    /// <param name="encodeUnnormalized">Encodes a text with the native tokenizer of <see cref="UnnormalizedAddedTokensDocument"/>
    /// (<paramref name="encode"/> when there is none), in which each added token's content is that token alone: in this
    /// document a normalized one may encode as another that shares its normalized text ("&lt;Extra&gt;", "&lt;extra&gt;").</param>
    /// <exception cref="ConfigException">An added token is not one token, gets the id of a vocabulary token, or is normalized
    /// to nothing.</exception>
    public TokenizerJson WithAddedTokenIds(Func<string, uint[]> encode, Func<string, uint[]> encodeUnnormalized)
    {
        var tokenToId = ((JsonObject)Root["model"]!["vocab"]!).ToDictionary(kv => kv.Key, kv => (int)Integer(kv.Value)!, StringComparer.Ordinal);
        var tokenOf = tokenToId.ToDictionary(kv => kv.Value, kv => kv.Key);
        foreach (var a in AddedTokenNodes())
        {
            string content = Text(a["content"])!;
            // Its empty pattern matches between every two characters: the bundled tokenizers 0.22 then splits every word into
            // characters, tokenizers 0.23 (transformers') panics on every encode ("AddedVocabulary bad split").
            if (IsNormalized(a) && encode(content).Length == 0)
                throw new ConfigException(Source, "added_tokens",
                    $"the normalized added token '{content}' normalizes to nothing, which transformers' tokenizers library fails on at every encode");
            uint[] ids = encodeUnnormalized(content);
            if (ids.Length != 1)
                throw new ConfigException(Source, "added_tokens", $"the added token '{content}' does not encode as one token ({ids.Length} ids)");
            int id = (int)ids[0];
            if (tokenOf.TryGetValue(id, out var other) && other != content)
                throw new ConfigException(Source, "added_tokens",
                    $"the tokenizers library (as transformers) gives the added token '{content}' id {id}, the id of '{other}' too: " +
                    "it numbers added tokens from the number of vocabulary entries, and this vocabulary's ids have gaps (in vocab.txt, a repeated line).");
            tokenToId[content] = id;
            tokenOf[id] = content;
        }
        var idToToken = IdTable(tokenToId);
        foreach (var a in AddedTokenNodes().Where(IsNormalized))
            idToToken[tokenToId[Text(a["content"])!]] = NormalizedText(Text(a["content"])!);
        return new TokenizerJson(Root, Source, tokenToId, idToToken);
    }

    private static bool IsNormalized(JsonObject addedToken) => addedToken["normalized"] is JsonValue v && v.TryGetValue(out bool b) && b;

    private IEnumerable<JsonObject> AddedTokenNodes() => (Root["added_tokens"] as JsonArray ?? []).OfType<JsonObject>();

    // The document's BertNormalizer (Build always writes one) applied to an added token's content.
    private string NormalizedText(string content)
    {
        var n = (JsonObject)Root["normalizer"]!;
        bool? Flag(string key) => n[key] is JsonValue v && v.TryGetValue(out bool b) ? b : null;
        return BertNormalizer.Normalize(content, Flag("handle_chinese_chars") ?? true, Flag("strip_accents"), Flag("lowercase") ?? true);
    }

    private static string?[] IdTable(Dictionary<string, int> tokenToId)
    {
        var idToToken = new string?[tokenToId.Count == 0 ? 0 : tokenToId.Values.Max() + 1];
        foreach (var (token, id) in tokenToId)
            idToToken[id] ??= token;
        return idToToken;
    }

    private TextSide? Direction(string section) => Root[section] switch
    {
        null => null,
        JsonObject o => Text(o["direction"]) switch
        {
            "Right" => TextSide.Right,
            "Left" => TextSide.Left,
            _ => throw new ConfigException(Source, $"{section}.direction", $"must be \"Right\" or \"Left\", not {o["direction"]?.ToJsonString() ?? "missing"}"),
        },
        var other => throw new ConfigException(Source, section, $"must be an object or null, not {other.ToJsonString()}"),
    };

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    // A parsed document holds JSON numbers, a built one (FromVocabulary) ints.
    private static long? Integer(JsonNode? node) =>
        node is not JsonValue v ? null : v.TryGetValue(out long l) ? l : v.TryGetValue(out int i) ? i : null;

    // An id as tokenizers reads it (a u32), bounded so that the id -> token table stays small.
    private static int TokenId(JsonNode? node, string what, string source) =>
        Integer(node) is long id && id >= 0 && id < ConfigLimits.MaxVocabSize ? (int)id
        : throw new ConfigException(source, what,
            $"id {node?.ToJsonString() ?? "null"} is not an integer from 0 to {ConfigLimits.MaxVocabSize - 1} (ConfigLimits.MaxVocabSize)");

    // transformers' load_vocab: one token a line, only the line end stripped; a repeated token keeps its last line.
    // Python reads it in text mode, where "\r\n" and a lone "\r" end lines as "\n" does (universal newlines).
    private static Dictionary<string, int> ReadVocabulary(string vocabPath)
    {
        var text = Utf8Text.Read(vocabPath);
        if (text.Length == 0)
            throw new ConfigException(vocabPath, "", "the vocabulary is empty");
        // Not ReplaceLineEndings: it also ends lines at U+0085, U+2028 and U+2029, which python keeps in a token.
        text = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        var lines = text.Split('\n');
        int count = text.EndsWith('\n') ? lines.Length - 1 : lines.Length;
        var vocab = new Dictionary<string, int>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
            vocab[lines[i]] = i;
        return vocab;
    }

    // transformers' order of added tokens (TokenizersBackend.__init__): the listed ones first (tokenizer_config.json's
    // added_tokens_decoder sorted by id, else the file's added_tokens), then the named special tokens and the extras
    // that are not among them. Special tokens already in the vocabulary keep their ids; the tokenizers library numbers
    // the others in this order from the vocabulary's size (WithAddedTokenIds reads its numbers back).
    // A named special token is special whatever its entry says (TokenizersBackend.__init__ and _post_init set the flag),
    // so decode skips it; an extra one keeps its entry's flag. A special token no list holds is added as the AddedTokens
    // of TokenizerSettings.SpecialTokenSpecs (a listed entry wins, as transformers maps the names to the entries). When
    // several share a content, the tokenizers library keeps the first one's id and the last one's flags (for matching and
    // id_to_token), and decode skips the token when any of them was special.
    private static JsonArray AddedTokens(Dictionary<string, int> vocab, IEnumerable<AddedTokenSpec> listed, TokenizerSettings settings)
    {
        var named = settings.NamedSpecialTokens().ToHashSet(StringComparer.Ordinal);
        var added = listed.Select(a => named.Contains(a.Content) ? a with { Special = true } : a).ToList();
        int next = Math.Max(vocab.Count, added.Count == 0 ? 0 : added.Max(a => a.Id) + 1);
        var listedContents = added.Select(a => a.Content).ToHashSet(StringComparer.Ordinal);
        foreach (var same in settings.SpecialTokenSpecs().Where(t => !listedContents.Contains(t.Content)).GroupBy(t => t.Content, StringComparer.Ordinal))
        {
            int id = vocab.TryGetValue(same.Key, out int known) ? known : next++;
            added.Add(same.Last() with { Id = id, Special = same.Any(t => t.Special) });
        }
        return new JsonArray(added.Select(a => (JsonNode)new JsonObject
        {
            ["id"] = a.Id,
            ["content"] = a.Content,
            ["single_word"] = a.SingleWord,
            ["lstrip"] = a.LStrip,
            ["rstrip"] = a.RStrip,
            ["normalized"] = a.Normalized,
            ["special"] = a.Special,
        }).ToArray());
    }

    // The added_tokens of a tokenizer.json, in the file's order, with their flags.
    private IEnumerable<AddedTokenSpec> FileAddedTokens() =>
        (Root["added_tokens"] as JsonArray ?? []).Select(node =>
        {
            var a = (JsonObject)node!;
            bool Flag(string key) => a[key] is JsonValue v && v.TryGetValue(out bool b) && b;
            return new AddedTokenSpec((int)Integer(a["id"])!, Text(a["content"])!, Flag("special"), Flag("normalized"),
                Flag("lstrip"), Flag("rstrip"), Flag("single_word"));
        });

    private static JsonObject Template(TokenizerSettings settings, Dictionary<string, int> vocab, string vocabPath)
    {
        static JsonObject Special(string token, int type) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = type } };
        static JsonObject Sequence(string id, int type) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        int IdOf(string token, string key) => vocab.TryGetValue(token, out int id) ? id
            : throw settings.MissingToken(vocabPath, key, token);
        return new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(Special(settings.ClsToken, 0), Sequence("A", 0), Special(settings.SepToken, 0)),
            ["pair"] = new JsonArray(Special(settings.ClsToken, 0), Sequence("A", 0), Special(settings.SepToken, 0),
                Sequence("B", 1), Special(settings.SepToken, 1)),
            ["special_tokens"] = new JsonObject
            {
                [settings.ClsToken] = new JsonObject { ["id"] = settings.ClsToken, ["ids"] = new JsonArray(IdOf(settings.ClsToken, "cls_token")), ["tokens"] = new JsonArray(settings.ClsToken) },
                [settings.SepToken] = new JsonObject { ["id"] = settings.SepToken, ["ids"] = new JsonArray(IdOf(settings.SepToken, "sep_token")), ["tokens"] = new JsonArray(settings.SepToken) },
            },
        };
    }
}
