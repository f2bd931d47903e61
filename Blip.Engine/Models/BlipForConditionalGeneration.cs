// transformers' BlipForConditionalGeneration: the captioning model (vision_model + text_decoder).
using Blip.Engine.Config;
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
    public static BlipForConditionalGeneration FromPretrained(string folder, Device? device = null, ScalarType? dtype = null) =>
        PretrainedLoader.Load(folder, c => new BlipForConditionalGeneration(c), device, dtype);

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
}
