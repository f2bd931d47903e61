// The static-shaped tensors of transformers' beam search: running and finished beams with their scores.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Running and finished hypotheses per input ([b,nb,L] ids, [b,nb] scores, [b,nb,L−T] beam indices).
/// Every update frees the tensors it replaces.</summary>
internal sealed class BeamState
{
    private Tensor running, runningScores, runningBeamIndices, sequences, scores, beamIndices, finished, earlyUnsatisfied;

    public BeamState(DecoderInput input, int beams, int maxLength, long fill)
    {
        Batch = input.Rows / beams;
        int prompt = input.Length;
        running = full(Batch, beams, maxLength, fill, dtype: ScalarType.Int64);
        running.narrow(2, 0, prompt).copy_(input.Ids.view(Batch, beams, prompt));
        sequences = running.clone();
        runningScores = zeros(Batch, beams);
        runningScores.narrow(1, 1, beams - 1).fill_(-1e9);
        scores = full(Batch, beams, -1e9f);
        finished = zeros(Batch, beams, dtype: ScalarType.Bool);
        earlyUnsatisfied = ones(Batch, 1, dtype: ScalarType.Bool);
        runningBeamIndices = full(Batch, beams, maxLength - prompt, -1, dtype: ScalarType.Int32);
        beamIndices = runningBeamIndices.clone();
    }

    public long Batch { get; }
    public Tensor Running => running;
    public Tensor RunningScores => runningScores;
    public Tensor RunningBeamIndices => runningBeamIndices;
    public Tensor Scores => scores;
    public Tensor Finished => finished;
    public Tensor EarlyStopUnsatisfied => earlyUnsatisfied;

    /// <summary>tensor[b, indices[b,k], ...] for a [b,n] or [b,n,L] tensor (transformers' _gather_beams).</summary>
    public static Tensor Gather(Tensor tensor, Tensor indices) => tensor.dim() == 2
        ? tensor.gather(1, indices)
        : tensor.gather(1, indices.unsqueeze(-1).expand(indices.shape[0], indices.shape[1], tensor.shape[2]));

    /// <summary>transformers' _get_running_beams_for_next_iteration: the best num_beams unfinished continuations.</summary>
    public void NextRunning(Tensor topLogProbs, Tensor topSequences, Tensor topBeamIndices, Tensor hits, int beams)
    {
        var candidates = topLogProbs + hits.to(ScalarType.Float32) * -1.0e9;
        var next = candidates.topk(beams).indexes;
        Slot.Replace(ref running, Gather(topSequences, next));
        Slot.Replace(ref runningScores, Gather(candidates, next));
        Slot.Replace(ref runningBeamIndices, Gather(topBeamIndices, next));
    }

    /// <summary>transformers' _update_finished_beams: keep the best num_beams of old and newly finished hypotheses.</summary>
    public void MergeFinished(Tensor topSequences, Tensor topScores, Tensor topBeamIndices, Tensor justFinished, int beams)
    {
        var mergedScores = cat([scores, topScores], dim: 1);
        var best = mergedScores.topk(beams).indexes;
        Slot.Replace(ref sequences, Gather(cat([sequences, topSequences], dim: 1), best));
        Slot.Replace(ref scores, Gather(mergedScores, best));
        Slot.Replace(ref beamIndices, Gather(cat([beamIndices, topBeamIndices], dim: 1), best));
        Slot.Replace(ref finished, Gather(cat([finished, justFinished], dim: 1), best));
    }

    /// <summary>ANDs the early-stop heuristic of this step into the per-input flag.</summary>
    public void UpdateHeuristic(Tensor stillImprovable) => Slot.Replace(ref earlyUnsatisfied, earlyUnsatisfied & stillImprovable);

    /// <summary>The best <paramref name="count"/> finished hypotheses per input, cropped to the longest generated
    /// length: ids [b·count, L] and scores [b·count]. Frees the state.</summary>
    public (Tensor Sequences, Tensor Scores) Take(int count, int promptLength)
    {
        var ids = sequences.narrow(1, 0, count).reshape(Batch * count, -1);
        var best = scores.narrow(1, 0, count).reshape(-1);
        var indices = beamIndices.narrow(1, 0, count).reshape(Batch * count, -1);
        long generated = (indices + 1).to(ScalarType.Bool).sum(1).max().item<long>();
        ids = ids.narrow(1, 0, promptLength + generated).clone();
        foreach (var t in new[] { running, runningScores, runningBeamIndices, sequences, scores, beamIndices, finished, earlyUnsatisfied })
            t.Dispose();
        return (ids, best);
    }
}
