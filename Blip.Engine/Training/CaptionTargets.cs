// Turns tokenized captions into the decoder's input ids, attention mask and labels for one loss recipe.
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Decoder inputs and labels of one batch of captions; owns the three tensors.</summary>
/// <param name="InputIds">[B,T] ids fed to the decoder.</param>
/// <param name="AttentionMask">[B,T] 1 for tokens, 0 for padding.</param>
/// <param name="Labels">[B,T] targets, -100 where ignored.</param>
public sealed record CaptionTargets(Tensor InputIds, Tensor AttentionMask, Tensor Labels) : IDisposable
{
    /// <summary>The id that cross-entropy ignores.</summary>
    public const long IgnoreIndex = -100;

    /// <summary>Tokenizes <paramref name="captions"/> (padded to the longest), the settings' prompt first where a caption
    /// does not start with it, and applies <paramref name="settings"/>.</summary>
    public static CaptionTargets Build(BlipTokenizer tokenizer, IReadOnlyList<string> captions, CaptionLossSettings settings, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(captions);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        var texts = captions.Select(c => WithPrompt(c, settings.Prompt)).ToList();
        var (ids, mask) = tokenizer.EncodeBatch(texts, maxLength: maxLength).ToTensors(); // [B,T]
        // BLIP's [:, 0] and [:, :prompt_length] assume right padding; each row's [CLS] is found where its tokens start,
        // so that a tokenizer with padding_side "left" gets the same targets, moved right.
        using var first = TokenBatch.FirstTokenColumn(mask);                                  // [B,1]
        if (settings.ReplaceClsWithBos)
        {
            long bosId = tokenizer.BosTokenId ?? throw new ArgumentException(
                "ReplaceClsWithBos needs a bos token, and this tokenizer has none (its files name no bos_token and it has no [DEC]).", nameof(tokenizer));
            using var bos = full(first.shape, bosId, dtype: ScalarType.Int64);                          // [B,1]
            ids.scatter_(1, first, bos);
        }
        var labels = ids.clone();
        // By id, as BLIP's blip_decoder (input_ids == pad_token_id): a [PAD] written in a caption is a real token
        // (attention 1) but is ignored too.
        if (settings.MaskPadding) labels.masked_fill_(labels.eq(tokenizer.PadTokenId), IgnoreIndex);
        int promptLength = settings.Prompt.Length == 0 ? 0 : tokenizer.Encode(settings.Prompt).Length - 1; // [CLS]+prompt, no [SEP]
        if (promptLength > 0)
        {
            using var columns = arange(labels.shape[1], dtype: ScalarType.Int64).unsqueeze(0); // [1,T]
            using var end = first + promptLength;                                               // [B,1]
            using var afterStart = columns.ge(first);
            using var beforeEnd = columns.lt(end);
            using var prompt = afterStart.logical_and(beforeEnd);                               // [B,T]
            labels.masked_fill_(prompt, IgnoreIndex);
        }
        return new CaptionTargets(ids, mask, labels);
    }

    /// <summary>BLIP's datasets prepend the prompt to every caption and the loss masks it; a caption that already starts
    /// with it (any case: the tokenizer lower-cases) is kept, so that it is neither doubled nor has its own words masked.</summary>
    private static string WithPrompt(string caption, string prompt) =>
        prompt.Length == 0 || caption.StartsWith(prompt, StringComparison.OrdinalIgnoreCase) ? caption : prompt + caption;

    /// <inheritdoc/>
    public void Dispose()
    {
        InputIds.Dispose();
        AttentionMask.Dispose();
        Labels.Dispose();
    }
}
