// BLIP's tokenizer: BERT uncased WordPiece plus [DEC] (bos, 30522) and [ENC] (30523), equal to
// transformers' BertTokenizer as BlipProcessor loads it. Encoding is Hugging Face's own Rust `tokenizers`
// (through Tokenizers.DotNet); special tokens, truncation, padding, decoding (the id table and the WordPiece
// decoder) and the config files are handled here, as transformers' Python layer and tokenizers 0.23 do.
using System.Diagnostics;
using System.Globalization;

namespace Blip.Engine.Processing;

/// <summary>Text ↔ token ids for BLIP, identical to transformers' BLIP tokenizer.</summary>
/// <remarks>
/// Reproduces <c>BlipProcessor.from_pretrained(...).tokenizer</c> of transformers 5: BERT's
/// normalizer (clean text, CJK split, accent strip and lowercase when uncased), BERT's pre-tokenizer,
/// WordPiece (<c>[UNK]</c> for unknown words and for words over 100 characters), <c>[CLS] text [SEP]</c>,
/// truncation that keeps <c>[CLS]</c> and <c>[SEP]</c>, padding with the pad id, each on the side the folder names
/// (<see cref="PaddingSide"/>, <see cref="TruncationSide"/>; right for BLIP's Hub files). Instances are safe to
/// share between threads once their sides are set; dispose them to free the native tokenizer.
/// </remarks>
public sealed class BlipTokenizer : IDisposable
{
    private readonly TokenizerJson _json;
    private readonly NativeTokenizerSession _session;
    private readonly int[] _prefix;
    private readonly int[] _suffix;
    private volatile bool _disposed;
    private TextSide _paddingSide;
    private TextSide _truncationSide;

    private BlipTokenizer(TokenizerJson json, TokenizerSettings settings)
    {
        _session = new NativeTokenizerSession(json.NativeDocument(), json.Source);
        try
        {
            _json = AddedTokenIds(json, _session);
            (_prefix, _suffix) = _json.SingleTemplate();
            ModelMaxLength = settings.ModelMaxLength;
            ProcessorMaxLength = settings.ProcessorMaxLength ?? _json.DefaultMaxLength;
            PaddingSide = settings.PaddingSide ?? _json.PaddingDirection ?? TextSide.Right;
            TruncationSide = settings.TruncationSide ?? _json.TruncationDirection ?? TextSide.Right;
            CleanUpTokenizationSpaces = settings.CleanUpTokenizationSpaces;
            PadTokenId = RequireId(settings.PadToken, "pad_token", settings);
            UnkTokenId = RequireId(settings.UnkToken, "unk_token", settings);
            ClsTokenId = RequireId(settings.ClsToken, "cls_token", settings);
            SepTokenId = RequireId(settings.SepToken, "sep_token", settings);
            MaskTokenId = RequireId(settings.MaskToken, "mask_token", settings);
            BosTokenId = settings.BosToken is { } bos ? RequireId(bos, "bos_token", settings) : _json.TokenToId.TryGetValue("[DEC]", out int dec) ? dec : null;
            EncTokenId = _json.TokenToId.TryGetValue("[ENC]", out int enc) ? enc : null;
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>Id of <c>[PAD]</c> (0), used to pad batches.</summary>
    public int PadTokenId { get; }

    /// <summary>Id of <c>[UNK]</c> (100).</summary>
    public int UnkTokenId { get; }

    /// <summary>Id of <c>[CLS]</c> (101), first token of an encoded text.</summary>
    public int ClsTokenId { get; }

    /// <summary>Id of <c>[SEP]</c> (102), last token of an encoded text; generation stops on it.</summary>
    public int SepTokenId { get; }

    /// <summary>Id of <c>[MASK]</c> (103).</summary>
    public int MaskTokenId { get; }

    /// <summary>Id of the bos token <c>[DEC]</c> (30522) that starts captions: the files' <c>bos_token</c>, else
    /// <c>[DEC]</c> when it is a token, else null (transformers' <c>bos_token_id</c> is None without a named bos; its
    /// captioning takes the bos from the model's config instead).</summary>
    public int? BosTokenId { get; }

    /// <summary>Id of <c>[ENC]</c> (30523), the original BLIP's first token for image-text matching; null when the
    /// tokenizer has no such token (transformers never uses it).</summary>
    public int? EncTokenId { get; }

    /// <summary>Number of ids, vocabulary and added tokens (30524 for BLIP).</summary>
    public int VocabularySize => _json.IdToToken.Count;

    /// <summary><c>model_max_length</c> of tokenizer_config.json (512 for BLIP).</summary>
    public int ModelMaxLength { get; }

    /// <summary>The <c>max_length</c> transformers' processor passes to every call of this tokenizer: tokenizer_config.json's
    /// <c>max_length</c>, else tokenizer.json's truncation length, else its fixed padding length, else null (BLIP's Hub
    /// files). <c>save_pretrained</c> writes those sections after a call such as
    /// <c>processor(text, padding="max_length", truncation=True, max_length=35)</c>, so a checkpoint fine-tuned that way
    /// truncates a text in every later unpadded processor call; a <c>padding=True</c> call ignores it.</summary>
    public int? ProcessorMaxLength { get; }

    /// <summary>Where <see cref="EncodeBatch"/> pads: tokenizer_config.json's <c>padding_side</c>, else tokenizer.json's
    /// padding direction, else right, as transformers' tokenizer reads them (BLIP's Hub files name none: right).</summary>
    /// <remarks>Settable as transformers' <c>tokenizer.padding_side</c>; left padding moves the text's positions, so
    /// ITM/ITC scores change with it exactly as they do in transformers.</remarks>
    public TextSide PaddingSide
    {
        get => _paddingSide;
        set => _paddingSide = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "PaddingSide must be Right or Left.");
    }

    /// <summary>Which end <c>maxLength</c> truncation removes content tokens from: tokenizer_config.json's
    /// <c>truncation_side</c>, else tokenizer.json's truncation direction, else right. Special tokens are kept.</summary>
    public TextSide TruncationSide
    {
        get => _truncationSide;
        set => _truncationSide = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "TruncationSide must be Right or Left.");
    }

    /// <summary><c>clean_up_tokenization_spaces</c> of tokenizer_config.json (absent, so false, for BLIP in transformers 5).</summary>
    public bool CleanUpTokenizationSpaces { get; }

    /// <summary>Receives warnings (truncation, texts over <see cref="ModelMaxLength"/>); when null they go to <see cref="Trace.TraceWarning(string)"/>.</summary>
    public Action<string>? Warning { get; set; }

    /// <summary>
    /// Loads the tokenizer of a model folder: <c>tokenizer.json</c> when present, otherwise
    /// <c>vocab.txt</c>; <c>tokenizer_config.json</c> and <c>special_tokens_map.json</c> when present.
    /// </summary>
    /// <remarks>As transformers 5, special_tokens_map.json is not read when tokenizer_config.json has
    /// <c>added_tokens_decoder</c>, and tokenizer_config.json's extra special tokens win over the map's
    /// <c>additional_special_tokens</c>.</remarks>
    /// <param name="modelDir">A Hub model folder such as a snapshot of Salesforce/blip-image-captioning-large.</param>
    public static BlipTokenizer Load(string modelDir)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        if (!Directory.Exists(modelDir))
            throw new DirectoryNotFoundException($"Tokenizer folder '{modelDir}' does not exist.");
        string config = Path.Combine(modelDir, "tokenizer_config.json");
        string map = Path.Combine(modelDir, "special_tokens_map.json");
        string tokenizerJson = Path.Combine(modelDir, "tokenizer.json");
        if (File.Exists(tokenizerJson))
            return FromTokenizerJson(tokenizerJson, config, map);
        string vocab = Path.Combine(modelDir, "vocab.txt");
        if (File.Exists(vocab))
            return FromVocabulary(vocab, config, map);
        throw new FileNotFoundException($"Tokenizer folder '{modelDir}' has neither tokenizer.json nor vocab.txt.", tokenizerJson);
    }

    /// <summary>Builds the tokenizer from a WordPiece <c>vocab.txt</c>, as transformers converts it.</summary>
    /// <param name="vocabPath">One token a line; line n is id n.</param>
    /// <param name="tokenizerConfigPath">tokenizer_config.json; null or missing: BLIP's Hub values (uncased, CJK split, 512).</param>
    /// <param name="specialTokensMapPath">special_tokens_map.json; null or missing: BLIP's (bos <c>[DEC]</c>, extra <c>[ENC]</c>).</param>
    /// <remarks>Special tokens missing from the vocabulary get the next ids: <c>[DEC]</c> = 30522, <c>[ENC]</c> = 30523.</remarks>
    public static BlipTokenizer FromVocabulary(string vocabPath, string? tokenizerConfigPath = null, string? specialTokensMapPath = null)
    {
        ArgumentNullException.ThrowIfNull(vocabPath);
        if (!File.Exists(vocabPath))
            throw new FileNotFoundException($"Vocabulary '{vocabPath}' does not exist.", vocabPath);
        var settings = TokenizerSettings.Read(tokenizerConfigPath, specialTokensMapPath);
        return new BlipTokenizer(TokenizerJson.FromVocabulary(vocabPath, settings), settings);
    }

    /// <summary>Loads a Hugging Face <c>tokenizer.json</c> (BERT WordPiece) with optional config files.</summary>
    /// <remarks>As transformers 5's BertTokenizer, only the file's vocabulary, added tokens, truncation and padding are
    /// used; lowercasing, accent stripping, CJK splitting, the unk token and <c>[CLS] text [SEP]</c> come from
    /// tokenizer_config.json (BERT's defaults when it is absent), whatever the file's normalizer or post-processor say.</remarks>
    /// <param name="tokenizerJsonPath">The tokenizers-library file.</param>
    /// <param name="tokenizerConfigPath">tokenizer_config.json for the normalizer settings, model_max_length and the special token names.</param>
    /// <param name="specialTokensMapPath">special_tokens_map.json for the special token names.</param>
    public static BlipTokenizer FromTokenizerJson(string tokenizerJsonPath, string? tokenizerConfigPath = null, string? specialTokensMapPath = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        if (!File.Exists(tokenizerJsonPath))
            throw new FileNotFoundException($"Tokenizer file '{tokenizerJsonPath}' does not exist.", tokenizerJsonPath);
        var settings = TokenizerSettings.Read(tokenizerConfigPath, specialTokensMapPath);
        return new BlipTokenizer(TokenizerJson.FromTokenizerJson(tokenizerJsonPath, settings), settings);
    }

    /// <summary>Token ids of <paramref name="text"/>, as transformers' <c>tokenizer(text).input_ids</c>.</summary>
    /// <param name="text">Any text; must not hold unpaired UTF-16 surrogates.</param>
    /// <param name="addSpecialTokens">Put <c>[CLS]</c> before and <c>[SEP]</c> after the text.</param>
    /// <param name="maxLength">
    /// Truncate on <see cref="TruncationSide"/> to this many ids, special tokens included (<c>truncation=True, max_length=n</c>);
    /// at least the number of special tokens added (2), since transformers' result below that is an artefact.
    /// </param>
    /// <remarks>
    /// As in transformers, no truncation happens without <paramref name="maxLength"/>; a result longer
    /// than <see cref="ModelMaxLength"/> is then only warned about. Truncation is warned about too.
    /// </remarks>
    public long[] Encode(string text, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (maxLength < 0)
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "maxLength must be null or at least 0.");
        uint[] content = _session.Encode(text);
        int keep = KeptContent(content.Length, addSpecialTokens, maxLength);
        int first = TruncationSide == TextSide.Left ? content.Length - keep : 0;
        int[] prefix = addSpecialTokens ? _prefix : [];
        int[] suffix = addSpecialTokens ? _suffix : [];
        var ids = new long[prefix.Length + keep + suffix.Length];
        for (int i = 0; i < prefix.Length; i++)
            ids[i] = prefix[i];
        for (int i = 0; i < keep; i++)
            ids[prefix.Length + i] = content[first + i];
        for (int i = 0; i < suffix.Length; i++)
            ids[prefix.Length + keep + i] = suffix[i];
        if (maxLength is null && ids.Length > ModelMaxLength)
            Warn(string.Create(CultureInfo.InvariantCulture,
                $"Token indices sequence length is longer than the specified maximum sequence length for this model ({ids.Length} > {ModelMaxLength}). Running this sequence through the model will result in indexing errors"));
        return ids;
    }

    /// <summary>Encodes every text and pads them with <see cref="PadTokenId"/> to the longest, on
    /// <see cref="PaddingSide"/> (transformers' <c>padding=True</c>).</summary>
    /// <param name="texts">The texts; none may be null.</param>
    /// <param name="addSpecialTokens">As in <see cref="Encode"/>.</param>
    /// <param name="maxLength">As in <see cref="Encode"/>, for every text.</param>
    public TokenBatch EncodeBatch(IReadOnlyList<string> texts, bool addSpecialTokens = true, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var rows = new long[texts.Count][];
        for (int b = 0; b < rows.Length; b++)
        {
            string text = texts[b] ?? throw new ArgumentException($"texts[{b}] is null.", nameof(texts));
            rows[b] = Encode(text, addSpecialTokens, maxLength);
        }
        int length = rows.Length == 0 ? 0 : rows.Max(r => r.Length);
        var ids = new long[rows.Length][];
        var mask = new long[rows.Length][];
        var side = PaddingSide;
        for (int b = 0; b < rows.Length; b++)
        {
            ids[b] = new long[length];
            mask[b] = new long[length];
            Array.Fill(ids[b], PadTokenId);
            int start = side == TextSide.Left ? length - rows[b].Length : 0;
            rows[b].CopyTo(ids[b], start);
            Array.Fill(mask[b], 1L, start, rows[b].Length);
        }
        return new TokenBatch(ids, mask);
    }

    /// <summary>Text of <paramref name="ids"/>, as transformers' <c>tokenizer.decode(ids, skip_special_tokens=...)</c>.</summary>
    /// <param name="ids">Token ids; ids that name no token are dropped, as transformers does.</param>
    /// <param name="skipSpecialTokens">Leave out special tokens (<c>[CLS]</c>, <c>[SEP]</c>, <c>[PAD]</c>, <c>[DEC]</c>, <c>[ENC]</c>, ...).</param>
    /// <remarks>
    /// "##" pieces join the previous token; the WordPiece decoder's own cleanup removes the space before
    /// <c>. ? ! ,</c>. transformers' <c>clean_up_tokenization</c> runs on top only when
    /// <see cref="CleanUpTokenizationSpaces"/> is set. An added token marked "normalized" reads as its normalized text
    /// ("[dec]" for "[DEC]" when uncased), as in tokenizers 0.23.
    /// </remarks>
    public string Decode(IReadOnlyList<long> ids, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var tokens = new List<string>(ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] is < 0 or > uint.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"ids[{i}] is not a token id.");
            if (IdToToken(ids[i]) is { } token && !(skipSpecialTokens && _json.SpecialTokens.Contains(token)))
                tokens.Add(token);
        }
        string text = WordPieceDecoder.Decode(tokens);
        return CleanUpTokenizationSpaces ? CleanUpTokenization(text) : text;
    }

    /// <summary>The token of <paramref name="id"/>, or null when it names none (transformers' <c>convert_ids_to_tokens</c>).</summary>
    public string? IdToToken(long id) => id >= 0 && id < _json.IdToToken.Count ? _json.IdToToken[(int)id] : null;

    /// <summary>The id of <paramref name="token"/> (a vocabulary entry such as "##s" or an added token), or null.</summary>
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _json.TokenToId.TryGetValue(token, out int id) ? id : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        _session.Dispose();
    }

    private int KeptContent(int count, bool addSpecialTokens, int? maxLength)
    {
        if (maxLength is not int max)
            return count;
        int specials = addSpecialTokens ? _prefix.Length + _suffix.Length : 0;
        int limit = max - specials;
        if (limit < 0)
        {
            // transformers 5.12.1 returns no truncation worth the name here: tokenizers 0.23 keeps the
            // leading added tokens and the first word, whatever max_length (Fixtures/tokenizer/truncation.jsonl).
            throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength,
                $"maxLength must be at least {specials}, the number of special tokens added.");
        }
        if (count <= limit)
            return count;
        Warn(string.Create(CultureInfo.InvariantCulture,
            $"Truncated the text from {count + specials} to {max} tokens (maxLength {max})."));
        return limit;
    }

    private void Warn(string message)
    {
        if (Warning is { } sink)
            sink(message);
        else
            Trace.TraceWarning("BlipTokenizer: " + message);
    }

    // transformers' PreTrainedTokenizerBase.clean_up_tokenization.
    private static string CleanUpTokenization(string text) => text
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" 's", "'s", StringComparison.Ordinal)
        .Replace(" 've", "'ve", StringComparison.Ordinal).Replace(" 're", "'re", StringComparison.Ordinal);

    // A normalized added token matches the normalized text, where another one may share its text ("<Extra>" and "<extra>"
    // uncased), so its id is read from a session in which no added token is normalized: the ids do not depend on the flag.
    private static TokenizerJson AddedTokenIds(TokenizerJson json, NativeTokenizerSession session)
    {
        if (json.UnnormalizedAddedTokensDocument() is not { } document)
            return json.WithAddedTokenIds(session.Encode, session.Encode);
        using var probe = new NativeTokenizerSession(document, json.Source);
        return json.WithAddedTokenIds(session.Encode, probe.Encode);
    }

    private int RequireId(string token, string key, TokenizerSettings settings) => _json.TokenToId.TryGetValue(token, out int id) ? id
        : throw settings.MissingToken(_json.Source, key, token);
}
