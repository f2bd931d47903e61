// transformers' RepetitionPenaltyLogitsProcessor (CTRL): penalise every id already in the sequence.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Scores of ids present in the sequence (prompt included) are divided by the penalty when positive and
/// multiplied by it when negative.</summary>
internal sealed class RepetitionPenaltyProcessor(double penalty) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores)
    {
        var score = scores.gather(1, ids);                                       // [B,T]
        score = where(score.lt(0), score * penalty, score / penalty);
        return scores.scatter(1, ids, score);                                    // [B,V]
    }
}
