// transformers' TopKLogitsWarper.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Keeps the k best scores (at least <c>minTokensToKeep</c>), −∞ elsewhere; ties with the k-th are kept.</summary>
internal sealed class TopKWarper(int topK, int minTokensToKeep) : ILogitsProcessor
{
    private readonly int k = Math.Max(topK, minTokensToKeep);

    public Tensor Process(Tensor ids, Tensor scores)
    {
        long keep = Math.Min(k, scores.shape[^1]);
        var kth = scores.topk((int)keep).values.narrow(-1, keep - 1, 1);          // [B,1]
        return scores.masked_fill(scores.lt(kth), double.NegativeInfinity);
    }
}
