// The processors of one generation, built in the order of transformers' _get_logits_processor.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Applies, in transformers' order: repetition penalty, no-repeat n-gram, min length; then, when sampling,
/// temperature, top-k, top-p.</summary>
internal sealed class LogitsProcessorList
{
    private readonly List<ILogitsProcessor> processors = [];

    /// <summary>The processors in the order they run.</summary>
    public IReadOnlyList<ILogitsProcessor> Processors => processors;

    /// <summary>Builds the list for <paramref name="options"/> and a prompt of <paramref name="promptLength"/> tokens
    /// as <c>_get_logits_processor</c> does.</summary>
    /// <remarks>transformers adds a MinLengthLogitsProcessor for min_length (already prompt + min_new_tokens when that
    /// is set) and a MinNewTokensLengthLogitsProcessor for min_new_tokens; both forbid the same end id for the same
    /// steps, so one <see cref="MinLengthProcessor"/> at <see cref="GenerationOptions.EffectiveMinLength"/> does both.</remarks>
    public static LogitsProcessorList Create(GenerationOptions options, StopTokens stop, int promptLength)
    {
        var list = new LogitsProcessorList();
        var p = list.processors;
        if (options.RepetitionPenalty != 1.0) p.Add(new RepetitionPenaltyProcessor(options.RepetitionPenalty));
        if (options.NoRepeatNgramSize > 0) p.Add(new NoRepeatNGramProcessor(options.NoRepeatNgramSize));
        int minLength = options.EffectiveMinLength(promptLength);
        if (minLength > 0) p.Add(new MinLengthProcessor(minLength, stop.Eos));
        if (!options.DoSample) return list;
        // Beam sampling keeps one token more than the end ids so a beam can always continue.
        int minKeep = options.NumBeams > 1 ? 2 : 1;
        if (options.Temperature != 1.0) p.Add(new TemperatureWarper(options.Temperature));
        if (options.TopK != 0) p.Add(new TopKWarper(options.TopK, minKeep));
        if (options.TopP < 1.0) p.Add(new TopPWarper(options.TopP, minKeep));
        return list;
    }

    /// <summary>Runs every processor on <paramref name="scores"/> [B,V] for the ids so far [B,T].</summary>
    public Tensor Apply(Tensor ids, Tensor scores)
    {
        foreach (var processor in processors) scores = processor.Process(ids, scores);
        return scores;
    }
}
