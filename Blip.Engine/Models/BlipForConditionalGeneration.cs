// transformers' BlipForConditionalGeneration: the captioning model (vision_model + text_decoder).
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Modules.Text;
using Blip.Engine.Modules.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>Image captioning: ViT image encoder and a causal BERT decoder that cross-attends to the image.</summary>
public sealed class BlipForConditionalGeneration : nn.Module
{
    private readonly BlipVisionModel vision_model;
    private readonly BlipTextLMHeadModel text_decoder;

    /// <summary>Creates the model with uninitialised weights for <paramref name="config"/>.</summary>
    public BlipForConditionalGeneration(BlipConfig config) : base(nameof(BlipForConditionalGeneration))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        vision_model = new BlipVisionModel(config.VisionConfig);
        text_decoder = new BlipTextLMHeadModel(config.TextConfig);
        RegisterComponents();
    }

    /// <summary>Loads a Hub-layout folder (<c>config.json</c> + safetensors), strictly by transformers' key names.</summary>
    /// <remarks>With <paramref name="memoryMap"/>, parameters are views of a private (copy-on-write) mapping of the
    /// file: ~0.5 s for 1.78 GB and no second copy, for inference. Replace such a file by writing a new one and renaming
    /// it, never in place. The default copies the weights into memory the model owns (use it to train).</remarks>
    public static BlipForConditionalGeneration FromPretrained(string folder, Device? device = null, ScalarType? dtype = null, bool memoryMap = false) =>
        PretrainedLoader.Load(folder, c => new BlipForConditionalGeneration(c), device, dtype, memoryMap);

    /// <summary>The configuration this model was built from.</summary>
    public BlipConfig Config { get; }

    /// <summary>The image encoder.</summary>
    public BlipVisionModel VisionModel => vision_model;

    /// <summary>The caption decoder.</summary>
    public BlipTextLMHeadModel TextDecoder => text_decoder;

    /// <summary>Teacher-forced logits [B,T,V] for <paramref name="inputIds"/> [B,T] as given (transformers' forward does
    /// not replace [CLS] by [DEC]; generation does).</summary>
    public Tensor Forward(Tensor pixelValues, Tensor inputIds, Tensor? attentionMask = null, bool interpolatePosEncoding = false)
    {
        using var scope = NewDisposeScope();
        using var vision = vision_model.forward(pixelValues, interpolatePosEncoding);
        return text_decoder.Forward(inputIds, attentionMask, vision.LastHiddenState).MoveToOuterDisposeScope();
    }

    /// <summary>The LM loss of transformers' forward with <c>labels</c>, label smoothing from the text config.</summary>
    public Tensor Loss(Tensor logits, Tensor labels) => BlipTextLMHeadModel.Loss(logits, labels, Config.TextConfig.LabelSmoothing);

    /// <summary>Captions <paramref name="pixelValues"/> [G,3,H,W] as transformers' <c>generate()</c>: ids identical to
    /// transformers' for greedy search, beam search and the logits processors of <see cref="GenerationOptions"/>.</summary>
    /// <param name="pixelValues">[G,3,H,W] images.</param>
    /// <param name="promptIds">[G,T] the processor's <c>[CLS] prompt [SEP]</c> ids (right-padded as it pads, or left-padded), or null for an
    /// unconditional caption (the decoder starts from bos).</param>
    /// <param name="promptMask">[G,T] padding mask of the prompts, or null.</param>
    /// <param name="options">Search options, e.g. <c>GenerationOptions.FromPretrained(folder) with { NumBeams = 3 }</c>;
    /// null: transformers' defaults (greedy, 20 new tokens).</param>
    /// <param name="interpolatePosEncoding">Resize the position grid for other image sizes.</param>
    /// <remarks>As transformers: [CLS] becomes bos and the last prompt column is dropped (see
    /// <see cref="PromptPadding"/> for prompts of different lengths); generation stops at <c>sep_token_id</c>;
    /// the returned ids include bos and the prompt, and <c>max_length</c> counts them. The image is encoded once and its
    /// cross-attention K/V are computed once per image, shared by all beams. Not thread-safe: a model instance must not
    /// be used by two threads at once.</remarks>
    public GenerationResult Generate(Tensor pixelValues, Tensor? promptIds = null, Tensor? promptMask = null,
        GenerationOptions? options = null, bool interpolatePosEncoding = false)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        options ??= GenerationOptions.Default;
        options.Validate();
        var text = Config.TextConfig;
        var stop = GenerationStops(text);
        long bos = text.RequireBosTokenId();
        // transformers starts an unconditional caption from LongTensor([[bos, eos_token_id]]), which fails unless the
        // text config's eos_token_id is one int (the column is then dropped).
        if (promptIds is null && text.EosTokenId.Count != 1)
            throw new InvalidOperationException(
                $"text_config.eos_token_id is [{string.Join(", ", text.EosTokenId)}], not one id: transformers' generate() fails on it for an unconditional caption (it builds [[bos, eos_token_id]])");
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        using var vision = vision_model.forward(pixelValues, interpolatePosEncoding);
        var (ids, mask, positions) = CaptionerPrompt.Build(promptIds, promptMask, pixelValues.shape[0], bos, stop.Pad, options.PromptPadding);
        var decoder = new CaptionerStepDecoder(text_decoder, vision.LastHiddenState, null);
        return TextGenerator.Generate(decoder, ids.to(vision.LastHiddenState.device), mask?.to(vision.LastHiddenState.device),
            options, stop, positions?.to(vision.LastHiddenState.device));
    }

    /// <summary>BLIP's generate() ends at <c>sep_token_id</c> and pads with <c>pad_token_id</c> (the end id when unset).</summary>
    internal static StopTokens GenerationStops(BlipTextConfig text)
    {
        long eos = text.SepTokenId ?? throw new InvalidOperationException(
            "text_config.sep_token_id is not set: transformers then generates to the length limit without an end token, which Blip.Engine does not implement");
        return new StopTokens(eos, text.PadTokenId ?? eos);
    }
}
