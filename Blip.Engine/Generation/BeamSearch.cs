// transformers' (5.x, vectorised) _beam_search, step for step, so ties and scores come out the same.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Beam search (or beam sampling) as transformers' <c>_beam_search</c>: per input, the top
/// 2·num_beams continuations over all beams are taken; those ending in the end id (or reaching max_length) compete
/// for the num_beams finished slots with score/length^length_penalty, the others continue; only the self-attention
/// cache is reordered, and each beam stays within its input's group of rows.</summary>
internal sealed class BeamSearch
{
    private readonly IStepDecoder decoder;
    private readonly LogitsProcessorList processors;
    private readonly GenerationOptions options;
    private readonly StopTokens stop;
    private readonly Generator? sampler;
    private readonly int beams, keep, maxLength;

    public BeamSearch(IStepDecoder decoder, LogitsProcessorList processors, GenerationOptions options, StopTokens stop,
        Generator? sampler, int maxLength)
    {
        (this.decoder, this.processors, this.options, this.stop, this.sampler, this.maxLength) =
            (decoder, processors, options, stop, sampler, maxLength);
        beams = options.NumBeams;
        keep = 2 * beams; // transformers: max(2, 1 + number of end ids) · num_beams, with one end id
    }

    /// <summary>Searches from <paramref name="input"/> (already widened to beams) and returns the best
    /// num_return_sequences ids per input [N,L] and their scores [N].</summary>
    public (Tensor Sequences, Tensor Scores) Run(DecoderInput input)
    {
        // A sequence can hold every position the decoder attends over plus the last token produced; past that the
        // decoder itself fails (as transformers does), so a larger max_length only needs this much room.
        int room = decoder.MaxPositions is { } positions ? (int)Math.Min(maxLength, positions + 1L) : maxLength;
        var s = new BeamState(input, beams, room, stop.BeamFill);
        using var cache = decoder.CreateCache();
        var topMask = cat([ones(beams, dtype: ScalarType.Bool), zeros(keep - beams, dtype: ScalarType.Bool)]);
        bool running = true;
        for (int length = input.Length; running; length++)
        {
            using var step = NewDisposeScope();
            var flat = s.Running.narrow(2, 0, length).reshape(s.Batch * beams, length);    // [B,T]
            var logits = decoder.NextLogits(input.NewIds(flat, length), input.MaskFor(length), cache, input.NewPositions(length));
            var logProbs = processors.Apply(flat, logits.log_softmax(-1));                 // [B,V]
            long vocab = logProbs.size(1);
            logProbs = (logProbs.view(s.Batch, beams, vocab) + s.RunningScores.unsqueeze(-1)).reshape(s.Batch, beams * vocab);
            var (topLogProbs, topSequences, topBeamIndices) = TopContinuations(s, logProbs, vocab, length, input.Length);
            var hits = topSequences.select(2, length).eq(stop.Eos);                         // [b,K]
            if (length + 1 >= maxLength) hits = ones_like(hits);
            s.NextRunning(topLogProbs, topSequences, topBeamIndices, hits, beams);
            var finishedScores = FinishedScores(s, topLogProbs, hits & topMask.unsqueeze(0), length + 1 - input.Length);
            s.MergeFinished(topSequences, finishedScores, topBeamIndices, hits & topMask.unsqueeze(0), beams);
            cache.ReorderSelf(s.RunningBeamIndices.select(2, length - input.Length).reshape(-1).to(ScalarType.Int64));
            s.UpdateHeuristic(Heuristic(s, length + 1 - input.Length, maxLength - input.Length));
            running = s.EarlyStopUnsatisfied.any().item<bool>()
                && !(options.EarlyStopping == BeamEarlyStopping.WhenBeamsFinished && s.Finished.all().item<bool>())
                && !hits.all().item<bool>();
        }
        topMask.Dispose();
        return s.Take(options.NumReturnSequences, input.Length);
    }

    /// <summary>transformers' _get_top_k_continuations: the K best (or sampled) continuations over all beams.</summary>
    private (Tensor LogProbs, Tensor Sequences, Tensor BeamIndices) TopContinuations(BeamState s, Tensor logProbs,
        long vocab, int length, int promptLength)
    {
        Tensor topLogProbs, topIndices;
        if (options.DoSample)
        {
            topIndices = multinomial(logProbs.softmax(-1), keep, generator: sampler);
            topLogProbs = logProbs.gather(1, topIndices);
        }
        else (topLogProbs, topIndices) = logProbs.topk(keep);                              // [b,K]
        var fromBeam = topIndices.div(vocab, rounding_mode: RoundingMode.floor);
        var sequences = BeamState.Gather(s.Running, fromBeam);                            // [b,K,L]
        var beamIndices = BeamState.Gather(s.RunningBeamIndices, fromBeam);
        sequences.select(2, length).copy_(topIndices.remainder(vocab));
        var offset = arange(s.Batch, dtype: ScalarType.Int64).view(-1, 1) * beams;
        beamIndices.select(2, length - promptLength).copy_((fromBeam + offset).to(ScalarType.Int32));
        return (topLogProbs, sequences, beamIndices);
    }

    /// <summary>The scores with which continuations compete for the finished slots (−1e9: may not enter).</summary>
    private Tensor FinishedScores(BeamState s, Tensor topLogProbs, Tensor justFinished, int generatedLength)
    {
        var scores = topLogProbs / Math.Pow(generatedLength, options.LengthPenalty);
        if (options.EarlyStopping == BeamEarlyStopping.WhenBeamsFinished)
            scores = scores + s.Finished.all(-1, keepdim: true).to(ScalarType.Float32) * -1.0e9;
        scores = scores + s.EarlyStopUnsatisfied.logical_not().to(ScalarType.Float32) * -1.0e9;
        return scores + justFinished.logical_not().to(ScalarType.Float32) * -1.0e9;
    }

    /// <summary>transformers' _check_early_stop_heuristic: can the best running beam still beat the worst finished one?</summary>
    private Tensor Heuristic(BeamState s, int generatedLength, int maxGenerated)
    {
        double lengthPenalty = options.LengthPenalty;
        int bestLength = options.EarlyStopping == BeamEarlyStopping.Never && lengthPenalty > 0 ? maxGenerated : generatedLength;
        var best = s.RunningScores.narrow(1, 0, 1) / Math.Pow(bestLength, lengthPenalty);          // [b,1]
        var worst = where(s.Finished, s.Scores.min(1, keepdim: true).values, tensor(-1.0e9f));     // [b,nb]
        return best.gt(worst).any(-1, keepdim: true);
    }
}
