// transformers' _sample: greedy search (argmax) or multinomial sampling, one token per step with the K/V cache.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Greedy decoding and sampling as transformers' <c>_sample</c>: finished rows are filled with the pad id;
/// stops when every row has produced the end id or the length reaches max_length.</summary>
internal static class GreedySearch
{
    /// <summary>Returns the ids [B,L] (prompt included).</summary>
    public static Tensor Run(IStepDecoder decoder, DecoderInput input, int maxLength, LogitsProcessorList processors,
        StopTokens stop, Generator? sampler, bool sample)
    {
        using var cache = decoder.CreateCache();
        var ids = input.Ids.clone();                                                 // [B,T]
        var unfinished = ones(input.Rows, dtype: ScalarType.Bool, device: ids.device);  // [B]
        while (true)
        {
            using var step = NewDisposeScope();
            int length = (int)ids.size(1);
            var logits = decoder.NextLogits(input.NewIds(ids, length), input.MaskFor(length), cache, input.NewPositions(length));
            var scores = processors.Apply(ids, logits);                              // [B,V]
            var next = sample
                ? multinomial(scores.softmax(-1), 1, generator: sampler).squeeze(1)
                : scores.argmax(-1);                                                 // [B]
            next = where(unfinished, next, tensor(stop.Pad, device: next.device));
            Slot.Replace(ref ids, cat([ids, next.unsqueeze(1)], dim: 1));
            bool atMax = length + 1 >= maxLength;
            Slot.Replace(ref unfinished, atMax ? zeros_like(unfinished) : unfinished.logical_and(next.ne(stop.Eos)));
            if (!unfinished.any().item<bool>()) break;
        }
        unfinished.Dispose();
        return ids;
    }
}
