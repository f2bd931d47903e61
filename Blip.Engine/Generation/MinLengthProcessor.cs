// transformers' MinLengthLogitsProcessor: no end token before min_length (prompt included).
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Sets the end token's score to −∞ while the sequence is shorter than <c>minLength</c>.</summary>
internal sealed class MinLengthProcessor(int minLength, long eos) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores)
    {
        var processed = scores.clone();
        // transformers compares the vocabulary's ids with eos: an end id outside it (a config's sep_token_id may be
        // anything) masks nothing.
        if (ids.shape[1] < minLength && eos >= 0 && eos < scores.shape[1])
            processed.index_fill_(1, tensor(new[] { eos }, device: scores.device), double.NegativeInfinity);
        return processed;
    }
}
