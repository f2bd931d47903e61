// A batch of token ids padded to the longest row, with its attention mask.
using static TorchSharp.torch;

namespace Blip.Engine.Processing;

/// <summary>Token ids of several texts, padded to the longest on the tokenizer's <see cref="BlipTokenizer.PaddingSide"/>
/// (transformers' <c>padding="longest"</c>).</summary>
public sealed class TokenBatch
{
    internal TokenBatch(long[][] inputIds, long[][] attentionMask)
    {
        InputIds = inputIds;
        AttentionMask = attentionMask;
    }

    /// <summary>Ids, one row per text, all of length <see cref="Length"/>; padding is the pad id (0 for BERT).</summary>
    public IReadOnlyList<long[]> InputIds { get; }

    /// <summary>1 where <see cref="InputIds"/> holds a token of the text, 0 on padding.</summary>
    public IReadOnlyList<long[]> AttentionMask { get; }

    /// <summary>Number of texts (B).</summary>
    public int Count => InputIds.Count;

    /// <summary>Length of every row (T).</summary>
    public int Length => InputIds.Count == 0 ? 0 : InputIds[0].Length;

    /// <summary>The ids and the mask as int64 tensors of shape [B, T] on the CPU; the caller owns them.</summary>
    public (Tensor InputIds, Tensor AttentionMask) ToTensors() => (ToTensor(InputIds), ToTensor(AttentionMask));

    /// <summary>The column of each row's first token ([CLS]) [B,1]: 0 with right padding, after the pads with left.</summary>
    /// <param name="attentionMask">[B,T] 1 for tokens, 0 for padding; every row holds a token.</param>
    internal static Tensor FirstTokenColumn(Tensor attentionMask) => attentionMask.ne(0).to(ScalarType.Int64).argmax(1, keepdim: true); // [B,1]

    private Tensor ToTensor(IReadOnlyList<long[]> rows)
    {
        var flat = new long[Count * Length];
        for (int b = 0; b < Count; b++)
            rows[b].CopyTo(flat, b * Length);
        return tensor(flat, [Count, Length], ScalarType.Int64); // [B, T]
    }
}
