// transformers' MinLengthLogitsProcessor: no end token before min_length (prompt included).
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Sets the end token's score to −∞ while the sequence is shorter than <c>minLength</c>.</summary>
internal sealed class MinLengthProcessor(int minLength, long eos) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores)
    {
        var processed = scores.clone();
        if (ids.shape[1] < minLength) processed.index_fill_(1, tensor(new[] { eos }, device: scores.device), double.NegativeInfinity);
        return processed;
    }
}
