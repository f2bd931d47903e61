// The text half of a Hugging Face BLIP config.json ("text_config"), as transformers' BlipTextConfig.
using System.Text.Json.Serialization;

namespace Blip.Engine.Config;

/// <summary>BERT text encoder/decoder settings, read from the <c>text_config</c> object of <c>config.json</c>.</summary>
/// <remarks>
/// Defaults are transformers' <c>BlipTextConfig</c> defaults. In transformers, <c>is_decoder</c> decides whether
/// layers have cross-attention (retrieval checkpoints too); causality is chosen per call. Blip.Engine keeps the two
/// ideas apart: <see cref="HasCrossAttention"/> here, causality as an argument of the forward.
/// </remarks>
public sealed record BlipTextConfig
{
    /// <summary>Vocabulary size V (30524: BERT's 30522 plus [DEC] and [ENC]).</summary>
    public int VocabSize { get; init; } = 30524;

    /// <summary>Width C of every token.</summary>
    public int HiddenSize { get; init; } = 768;

    /// <summary>Width of the image states that cross-attention reads; transformers overwrites it with the vision width.</summary>
    public int EncoderHiddenSize { get; init; } = 768;

    /// <summary>Width of the feed-forward layer.</summary>
    public int IntermediateSize { get; init; } = 3072;

    /// <summary>Number of layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Attention heads per layer (the file wins: some Hub files once said 8).</summary>
    public int NumAttentionHeads { get; init; } = 8;

    /// <summary>Longest sequence the position embeddings cover.</summary>
    public int MaxPositionEmbeddings { get; init; } = 512;

    /// <summary>Feed-forward activation; every BLIP checkpoint says <c>gelu</c> (exact); <see cref="HiddenActivation.Supported"/> lists the others.</summary>
    public string HiddenAct { get; init; } = "gelu";

    /// <summary>LayerNorm epsilon.</summary>
    public double LayerNormEps { get; init; } = 1e-12;

    /// <summary>Hidden dropout probability (training only).</summary>
    public double HiddenDropoutProb { get; init; }

    /// <summary>Attention dropout probability (training only).</summary>
    public double AttentionProbsDropoutProb { get; init; }

    /// <summary>Standard deviation for weight initialisation.</summary>
    public double InitializerRange { get; init; } = 0.02;

    /// <summary>Id that starts a caption ([DEC]).</summary>
    public int? BosTokenId { get; init; } = 30522;

    /// <summary>End-of-sequence ids as written in the file (a number or a list).</summary>
    [JsonConverter(typeof(IntOrIntListConverter))]
    public IReadOnlyList<int> EosTokenId { get; init; } = [2];

    /// <summary>Padding id.</summary>
    public int? PadTokenId { get; init; } = 0;

    /// <summary>[SEP]: generation stops here.</summary>
    public int? SepTokenId { get; init; } = 102;

    /// <summary>transformers' flag; true creates the cross-attention layers.</summary>
    public bool IsDecoder { get; init; } = true;

    /// <summary>Label smoothing of the LM loss (as torch's cross_entropy: at most 1, checked by the loss; 0 or less
    /// smooths nothing).</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Whether the LM head's decoder weight is the word embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>Whether layers have cross-attention to image (or question) states.</summary>
    [JsonIgnore]
    public bool HasCrossAttention => IsDecoder;

    /// <summary>Head width D = C / H.</summary>
    [JsonIgnore]
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Throws <see cref="ConfigException"/> naming the first field that cannot describe a network.</summary>
    public void Validate(string source)
    {
        ConfigException.RequireSize(source, "text_config.vocab_size", VocabSize, ConfigLimits.MaxVocabSize);
        ConfigException.RequireSize(source, "text_config.hidden_size", HiddenSize, ConfigLimits.MaxHiddenSize);
        ConfigException.RequireSize(source, "text_config.encoder_hidden_size", EncoderHiddenSize, ConfigLimits.MaxHiddenSize);
        ConfigException.RequireSize(source, "text_config.intermediate_size", IntermediateSize, ConfigLimits.MaxIntermediateSize);
        ConfigException.RequireSize(source, "text_config.num_hidden_layers", NumHiddenLayers, ConfigLimits.MaxLayers);
        ConfigException.RequirePositive(source, "text_config.num_attention_heads", NumAttentionHeads);
        ConfigException.RequireSize(source, "text_config.max_position_embeddings", MaxPositionEmbeddings, ConfigLimits.MaxPositionEmbeddings);
        ConfigException.RequirePositive(source, "text_config.layer_norm_eps", LayerNormEps);
        ConfigException.RequireProbability(source, "text_config.hidden_dropout_prob", HiddenDropoutProb);
        ConfigException.RequireProbability(source, "text_config.attention_probs_dropout_prob", AttentionProbsDropoutProb);
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ConfigException(source, "text_config.num_attention_heads",
                $"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        HiddenActivation.Require(source, "text_config.hidden_act", HiddenAct);
        // transformers only warns about bos/sep ids outside the vocabulary (generate() then fails on bos, never stops at
        // sep); the pad id is every text embedding's padding_idx, which nn.Embedding requires in [-V, V).
        if (PadTokenId is { } pad && (pad < -VocabSize || pad >= VocabSize))
            throw new ConfigException(source, "text_config.pad_token_id",
                $"{pad} is outside [-{VocabSize}, {VocabSize}): the word embeddings' padding_idx must be within vocab_size (as nn.Embedding requires)");
    }

    /// <summary>The id that starts a caption or an answer: <see cref="BosTokenId"/>, which must name a row of the
    /// vocabulary (transformers loads other ids with a warning and then fails in generate()).</summary>
    /// <exception cref="InvalidOperationException">It is unset or outside [0, V).</exception>
    public long RequireBosTokenId()
    {
        var bos = BosTokenId ?? throw new InvalidOperationException("text_config.bos_token_id is not set; captions and answers start with it");
        if (bos < 0 || bos >= VocabSize)
            throw new InvalidOperationException($"text_config.bos_token_id {bos} is outside the vocabulary [0, {VocabSize}); captions and answers start with it");
        return bos;
    }
}
