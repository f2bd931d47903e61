// What generate() returns: the padded id matrix as transformers returns it, plus per-sequence lists and beam scores.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>The output of one generation. Owns <see cref="Sequences"/> (in no dispose scope): dispose the result.</summary>
public sealed class GenerationResult : IDisposable
{
    internal GenerationResult(Tensor sequences, IReadOnlyList<long[]> tokens, IReadOnlyList<float>? scores)
    {
        Sequences = sequences;
        Tokens = tokens;
        SequenceScores = scores;
    }

    /// <summary>[N,L] int64 ids exactly as transformers' <c>generate()</c> returns them: prompt (with bos) then new
    /// tokens; finished rows padded (greedy/sampling: pad id; beam search: pad id, or the end id when pad is 0).
    /// N = inputs × <c>num_return_sequences</c>, grouped by input.</summary>
    public Tensor Sequences { get; }

    /// <summary>Each row of <see cref="Sequences"/> without padding: left padding (per-sequence prompts) removed and
    /// cut after the first end token that follows the prompt.</summary>
    public IReadOnlyList<long[]> Tokens { get; }

    /// <summary>Beam search only: transformers' <c>sequences_scores</c> (sum of log-probabilities / length^penalty);
    /// null for greedy search and sampling.</summary>
    public IReadOnlyList<float>? SequenceScores { get; }

    /// <inheritdoc/>
    public void Dispose() => Sequences.Dispose();
}
