// What the search needs from a model: next-token logits for new ids, given a K/V cache. Nothing about images.
using Blip.Engine.Modules.Text;
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>A causal decoder driven one step at a time by the search. Implementations hold whatever the decoder
/// attends to besides the text (image or question states) and feed it on the first step only.</summary>
/// <remarks>Rows are ordered group-major: when the search widens a batch of G inputs to B = G·n rows (beams or
/// samples), rows <c>i·n .. i·n+n-1</c> belong to input i. Implementations must accept that B.</remarks>
public interface IStepDecoder
{
    /// <summary>A fresh, empty cache for one generation; the search owns and disposes it.</summary>
    TextDecoderCache CreateCache();

    /// <summary>Decodes <paramref name="newIds"/> [B,t] after the <c>cache.Length</c> cached positions and returns the
    /// logits of the last position [B,V] in float32.</summary>
    /// <param name="newIds">[B,t] ids not yet in the cache (the whole prompt on the first step, then one id).</param>
    /// <param name="attentionMask">[B,past+t] padding mask over cached and new positions (1 = attend).</param>
    /// <param name="cache">The cache of this generation; the decoder appends this step's keys/values.</param>
    /// <param name="positionIds">[B,t] explicit positions, or null for positions from the cache length.</param>
    Tensor NextLogits(Tensor newIds, Tensor attentionMask, TextDecoderCache cache, Tensor? positionIds);

    /// <summary>How many positions the decoder can attend over (its max_position_embeddings), or null for no limit.
    /// Beam search sizes its buffers by it instead of by an absurd max_length; the default length (no max length set)
    /// stops there, as transformers caps it.</summary>
    int? MaxPositions => null;
}
