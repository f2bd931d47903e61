// Adapts a BLIP text decoder plus the states it cross-attends to (image or question) to the generation loop.
using Blip.Engine.Generation;
using Blip.Engine.Modules.Text;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>The captioning/answer decoder as an <see cref="IStepDecoder"/>: the encoder states [Bk,S,C] are given
/// once and projected to cross-attention K/V on the first step only, shared by the n rows (beams) of each input.</summary>
internal sealed class CaptionerStepDecoder(BlipTextLMHeadModel decoder, Tensor encoderStates, Tensor? encoderMask) : IStepDecoder
{
    public TextDecoderCache CreateCache() => new(decoder.Config.NumHiddenLayers);

    public int? MaxPositions => decoder.Config.MaxPositionEmbeddings;

    public Tensor NextLogits(Tensor newIds, Tensor attentionMask, TextDecoderCache cache, Tensor? positionIds)
    {
        ArgumentNullException.ThrowIfNull(cache);
        using var scope = NewDisposeScope();
        var states = cache.Layers[0].Cross.IsSet ? null : encoderStates;
        // The LM head runs on the last position only (the prompt's prefill included).
        var logits = decoder.Forward(newIds, attentionMask, states, encoderMask, cache, lastOnly: true, positionIds);  // [B,1,V]
        return logits.select(1, -1).to(ScalarType.Float32).MoveToOuterDisposeScope();                                // [B,V]
    }
}
