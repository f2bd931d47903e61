// generate(): picks greedy search, sampling or beam search and runs it over an IStepDecoder.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>transformers' <c>generate()</c> for a decoder driven through <see cref="IStepDecoder"/>: greedy search,
/// multinomial sampling, beam search and beam sampling, with its logits processors and stopping rules.</summary>
/// <remarks>The prompt is decoded once (prefill), then one token per step with the K/V cache; the LM head runs on
/// the last position only. Not thread-safe: a decoder (and the model behind it) must not be used by two threads at
/// once.</remarks>
public static class TextGenerator
{
    /// <summary>Generates from <paramref name="inputIds"/> [G,T] (G inputs) and returns G·num_return_sequences rows.</summary>
    /// <param name="decoder">The model, one step at a time; it must accept G·n rows grouped by input.</param>
    /// <param name="inputIds">[G,T] int64 start ids (prompt, starting with bos).</param>
    /// <param name="attentionMask">[G,T] padding mask, or null: inferred as transformers does (ids ≠ pad when the pad
    /// id occurs and differs from the end id, else all ones).</param>
    /// <param name="options">Search options; validated here.</param>
    /// <param name="stop">End and pad ids.</param>
    /// <param name="positionIds">[G,T] explicit positions, or null for transformers' positions from the mask
    /// (cumsum(mask) − 1, 0 where masked; then last + 1 per new token).</param>
    public static GenerationResult Generate(IStepDecoder decoder, Tensor inputIds, Tensor? attentionMask,
        GenerationOptions options, StopTokens stop, Tensor? positionIds = null)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(stop);
        options.Validate();
        CheckShapes(inputIds, attentionMask, positionIds);
        if (attentionMask is not null) Modules.InputChecks.ZerosAndOnes(attentionMask, nameof(attentionMask));
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var mask = attentionMask?.to(ScalarType.Int64) ?? InferMask(inputIds, stop);
        var input = new DecoderInput(inputIds.to(ScalarType.Int64), mask, positionIds?.to(ScalarType.Int64) ?? PositionsFromMask(mask));
        int maxLength = options.EffectiveMaxLength(input.Length, decoder.MaxPositions);
        // transformers' _validate_generated_length refuses it for every search (greedy would otherwise add one token).
        if (maxLength <= input.Length)
            throw GenerationOptions.Invalid(nameof(GenerationOptions.MaxLength),
                $"({maxLength}) must exceed the input length ({input.Length}, bos and prompt), as transformers requires; set MaxNewTokens to count new tokens only");
        if (options.FloatMinNewTokens is { } floatMinNew && floatMinNew + input.Length > 0)
            throw GenerationOptions.Invalid(nameof(GenerationOptions.MinNewTokens),
                $"is the float {floatMinNew:R} of generation_config.json: transformers adds the input length ({input.Length}) and " +
                $"its MinLengthLogitsProcessor refuses the float sum ('`min_length` has to be a non-negative integer, but is {floatMinNew + input.Length:R}')");
        var processors = LogitsProcessorList.Create(options, stop, input.Length);
        // On the ids' device: libtorch refuses a CPU generator for CUDA probabilities in multinomial.
        using var sampler = options.DoSample && options.Seed is { } seed ? new Generator((ulong)seed, inputIds.device) : null;
        Tensor sequences;
        Tensor? scores = null;
        int perInput = options.NumReturnSequences;
        if (options.NumBeams > 1)
            (sequences, scores) = new BeamSearch(decoder, processors, options, stop, sampler, maxLength).Run(input.Widen(options.NumBeams));
        else sequences = GreedySearch.Run(decoder, input.Widen(perInput), maxLength, processors, stop, sampler, options.DoSample);
        var tokens = Unpadded(sequences, input.Widen(perInput).Mask, input.Length, stop.Eos);
        var scoreList = scores is null ? null : (IReadOnlyList<float>)scores.data<float>().ToArray();
        return new GenerationResult(sequences.DetachFromDisposeScope(), tokens, scoreList);
    }

    /// <summary>transformers' _prepare_attention_mask_for_generation for ids without a mask.</summary>
    private static Tensor InferMask(Tensor ids, StopTokens stop) =>
        ids.eq(stop.Pad).any().item<bool>() && stop.Pad != stop.Eos
            ? ids.ne(stop.Pad).to(ScalarType.Int64)
            : ones_like(ids, dtype: ScalarType.Int64);

    /// <summary>transformers' _prepare_position_ids_for_generation: cumsum(mask) − 1, 0 at masked positions; each new
    /// token then takes the last position + 1. A right-padded prompt thus continues after position 0 of its last pad.</summary>
    private static Tensor PositionsFromMask(Tensor mask) =>
        (mask.cumsum(-1) - 1).masked_fill(mask.eq(0), 0);

    private static void CheckShapes(Tensor ids, Tensor? mask, Tensor? positions)
    {
        if (ids.dim() != 2 || ids.shape[1] == 0)
            throw new ArgumentException($"input ids must be [G,T] with T ≥ 1, got [{string.Join(",", ids.shape)}]", nameof(ids));
        if (mask is not null && !mask.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"attention mask [{string.Join(",", mask.shape)}] must match input ids [{string.Join(",", ids.shape)}]", nameof(mask));
        if (positions is not null && !positions.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"position ids [{string.Join(",", positions.shape)}] must match input ids [{string.Join(",", ids.shape)}]", nameof(positions));
    }

    /// <summary>Each row without leading masked positions and cut after the first end id past the prompt.</summary>
    private static List<long[]> Unpadded(Tensor sequences, Tensor promptMask, int promptLength, long eos)
    {
        using var ids = sequences.to(CPU).contiguous();
        using var mask = promptMask.to(CPU).contiguous();
        long rows = ids.shape[0], length = ids.shape[1];
        long[] all = ids.data<long>().ToArray(), m = mask.data<long>().ToArray();
        long perMask = mask.shape[0] == rows ? 1 : rows / mask.shape[0];
        var result = new List<long[]>((int)rows);
        for (long r = 0; r < rows; r++)
        {
            long start = 0, maskRow = r / perMask;
            while (start < promptLength - 1 && m[maskRow * promptLength + start] == 0) start++;
            long end = promptLength;
            while (end < length && all[r * length + end] != eos) end++;
            end = Math.Min(end + 1, length);
            result.Add(all.AsSpan((int)(r * length + start), (int)(end - start)).ToArray());
        }
        return result;
    }
}
