// The prompt a search starts from, already widened to one row per beam/sample.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Start ids [B,T], their padding mask [B,T] and optional explicit positions [B,T] (rows group-major).</summary>
internal sealed record DecoderInput(Tensor Ids, Tensor Mask, Tensor? Positions)
{
    public long Rows => Ids.size(0);

    public int Length => (int)Ids.size(1);

    /// <summary>Each row repeated <paramref name="n"/> times in place (transformers' repeat_interleave).</summary>
    public DecoderInput Widen(int n) => n == 1 ? this
        : new(Ids.repeat_interleave(n, dim: 0), Mask.repeat_interleave(n, dim: 0), Positions?.repeat_interleave(n, dim: 0));

    /// <summary>The mask over <paramref name="length"/> positions: the prompt's, then ones for generated tokens.</summary>
    public Tensor MaskFor(int length) => length == Length ? Mask
        : cat([Mask, ones(Rows, length - Length, dtype: Mask.dtype, device: Mask.device)], dim: 1);

    /// <summary>The ids to feed when the sequence is <paramref name="length"/> long: the whole prompt first, then the
    /// last token of <paramref name="sequences"/> [B,length].</summary>
    public Tensor NewIds(Tensor sequences, int length) => length == Length ? sequences : sequences.narrow(1, length - 1, 1);

    /// <summary>Positions of the ids fed at <paramref name="length"/>, or null for positions from the cache.</summary>
    public Tensor? NewPositions(int length) => Positions is null ? null
        : length == Length ? Positions : Positions.narrow(1, Length - 1, 1) + (length - Length);
}
