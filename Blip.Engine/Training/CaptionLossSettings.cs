// How captions become decoder inputs and labels, and the label smoothing of the LM loss.
namespace Blip.Engine.Training;

/// <summary>The captioning loss recipe: what the decoder is fed, which labels count, and the label smoothing.</summary>
/// <remarks>
/// <see cref="Transformers"/> is what transformers' <c>BlipForConditionalGeneration(labels=input_ids)</c> computes:
/// ids as tokenized (<c>[CLS]</c> first), every label counted (pads too), smoothing from the config (0.0).
/// <see cref="OriginalBlip"/> is Salesforce's <c>blip_decoder.forward</c>: <c>[CLS]</c> replaced by <c>[DEC]</c>, pads
/// and the prompt's tokens set to -100, smoothing 0.1. Both then take the loss of logits[:, :-1] against labels[:, 1:].
/// </remarks>
public sealed record CaptionLossSettings
{
    /// <summary>Label smoothing of the cross-entropy; null takes the model config's <c>label_smoothing</c>.</summary>
    public double? LabelSmoothing { get; init; }

    /// <summary>Replace the first id (<c>[CLS]</c>) by the decoder's bos (<c>[DEC]</c>).</summary>
    public bool ReplaceClsWithBos { get; init; }

    /// <summary>Set the labels that are the pad id to -100 (ignored): the padding, and a <c>[PAD]</c> written in a
    /// caption, as BLIP's <c>input_ids.masked_fill(input_ids == pad_token_id, -100)</c>.</summary>
    public bool MaskPadding { get; init; }

    /// <summary>Prompt text whose tokens (with the bos) are masked with -100, e.g. <c>"a picture of "</c>; empty for none.
    /// It is prepended to captions that do not start with it, as BLIP's datasets do.</summary>
    public string Prompt { get; init; } = "";

    /// <summary>transformers' default: labels = input ids, smoothing from the config, nothing masked.</summary>
    public static CaptionLossSettings Transformers { get; } = new();

    /// <summary>The original BLIP recipe with <paramref name="prompt"/> (BLIP used <c>"a picture of "</c>).</summary>
    public static CaptionLossSettings OriginalBlip(string prompt = "a picture of ") => new()
    {
        LabelSmoothing = 0.1,
        ReplaceClsWithBos = true,
        MaskPadding = true,
        Prompt = prompt ?? throw new ArgumentNullException(nameof(prompt)),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the invalid field.</summary>
    public CaptionLossSettings Validate()
    {
        if (LabelSmoothing is { } s && (double.IsNaN(s) || s < 0 || s >= 1))
            throw new ArgumentException($"{nameof(LabelSmoothing)} must be in [0, 1), got {s}", nameof(LabelSmoothing));
        ArgumentNullException.ThrowIfNull(Prompt, nameof(Prompt));
        return this;
    }
}
