// transformers' TopPLogitsWarper (nucleus).
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Keeps the smallest set of best tokens whose probability reaches top_p (at least
/// <c>minTokensToKeep</c>), −∞ elsewhere.</summary>
internal sealed class TopPWarper(double topP, int minTokensToKeep) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores)
    {
        var (sorted, order) = scores.sort(dim: -1, descending: false);           // ascending, as transformers
        var cumulative = sorted.softmax(-1).cumsum(-1);
        var remove = cumulative.le(1 - topP);
        long keep = Math.Min(minTokensToKeep, scores.shape[^1]);
        remove.narrow(-1, scores.shape[^1] - keep, keep).fill_(false);
        var removeAtIndex = remove.scatter(1, order, remove);
        return scores.masked_fill(removeAtIndex, double.NegativeInfinity);
    }
}
