// transformers' BlipTextEmbeddings: word + absolute position embeddings, LayerNorm (no token types).
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Token ids <c>[B,T]</c> → embeddings <c>[B,T,C]</c>; positions start at the cache length.</summary>
public sealed class BlipTextEmbeddings : nn.Module
{
    private readonly EmbeddingLookup word_embeddings;      // [V,C]
    private readonly EmbeddingLookup position_embeddings;  // [P,C]
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly int maxPositions;
    private readonly int vocabSize;

    /// <summary>Creates the embeddings for <paramref name="config"/>.</summary>
    public BlipTextEmbeddings(BlipTextConfig config) : base(nameof(BlipTextEmbeddings))
    {
        ArgumentNullException.ThrowIfNull(config);
        maxPositions = config.MaxPositionEmbeddings;
        vocabSize = config.VocabSize;
        // transformers' nn.Embedding(vocab_size, hidden_size, padding_idx=pad_token_id): the pad row gets no gradient.
        word_embeddings = new EmbeddingLookup(config.VocabSize, config.HiddenSize, config.PadTokenId);
        position_embeddings = new EmbeddingLookup(config.MaxPositionEmbeddings, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <summary>The word embedding matrix [V,C] (tied to the LM head's decoder).</summary>
    public EmbeddingLookup WordEmbeddings => word_embeddings;

    /// <summary>Embeds <paramref name="inputIds"/> [B,T] at positions <paramref name="pastLength"/>.. (or the explicit
    /// per-token <paramref name="positionIds"/> [B,T]).</summary>
    public Tensor Forward(Tensor inputIds, long pastLength = 0, Tensor? positionIds = null)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.dtype is not (ScalarType.Int64 or ScalarType.Int32 or ScalarType.Int16 or ScalarType.Int8 or ScalarType.Byte))
            throw new ArgumentException($"input_ids must hold integer token ids, got {inputIds.dtype}", nameof(inputIds));
        InputChecks.SameDevice(inputIds, word_embeddings.Weight, nameof(inputIds));
        long length = inputIds.size(1);
        if (pastLength + length > maxPositions)
            throw new ArgumentException($"sequence of {pastLength + length} positions exceeds max_position_embeddings {maxPositions}", nameof(inputIds));
        using var scope = NewDisposeScope();
        if (inputIds.numel() > 0)
        {
            // Both range checks in one copy to the host: a decoding step calls this once per token.
            bool positions = positionIds is not null && positionIds.numel() > 0;
            Tensor[] bounds = positions ? [inputIds.min(), inputIds.max(), positionIds!.min(), positionIds.max()] : [inputIds.min(), inputIds.max()];
            var b = stack(bounds.Select(t => t.to(ScalarType.Int64)).ToArray()).cpu().data<long>().ToArray();
            InRange(b[0], b[1], vocabSize, nameof(inputIds), "token id", $"the vocabulary [0, {vocabSize})");
            if (positions) InRange(b[2], b[3], maxPositions, nameof(positionIds), "position", $"[0, {maxPositions}) (max_position_embeddings)");
        }
        positionIds ??= arange(pastLength, pastLength + length, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0); // [1,T]
        var embeddings = word_embeddings.forward(inputIds) + position_embeddings.forward(positionIds);                        // [B,T,C]
        return dropout.forward(LayerNorm.forward(embeddings)).MoveToOuterDisposeScope();
    }

    private static void InRange(long lo, long hi, long count, string name, string what, string range)
    {
        if (lo < 0 || hi >= count)
            throw new ArgumentOutOfRangeException(name, $"{what} {(lo < 0 ? lo : hi)} is outside {range}");
    }
}
