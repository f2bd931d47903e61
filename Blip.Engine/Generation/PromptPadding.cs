// How a batch of prompts of different lengths is laid out for the decoder.
namespace Blip.Engine.Generation;

/// <summary>How prompts of different lengths in one batch are fed to the decoder.</summary>
public enum PromptPadding
{
    /// <summary>As transformers' BLIP <c>generate()</c>: right-padded prompts, [CLS] replaced by bos and the last
    /// column dropped. Shorter prompts keep their own [SEP] and pads inside the prompt: they are masked, but
    /// transformers' positions (cumsum(mask) − 1, 0 at pads) make the first new token continue from the last pad's
    /// position 0, so their captions differ from a run of that prompt alone. This reproduces transformers' ids exactly.</summary>
    Transformers,

    /// <summary>Each prompt's real tokens (mask 1; the prompts may come right- or left-padded) are cut before their own
    /// [SEP] and left-padded, with an attention mask and explicit position ids,
    /// so every sequence reads as if run alone. <c>max_length</c> and <c>min_length</c> count the longest prompt, as
    /// with left padding in transformers; use <c>max_new_tokens</c> for the same budget per prompt. The pad ids in front
    /// count as seen tokens for the repetition penalty and the n-gram ban (as in transformers with left padding).</summary>
    PerSequence,
}
