// transformers' BlipForImageTextRetrieval: ITM head and ITC projections over a vision model and a text encoder.
using Blip.Engine.Config;
using Blip.Engine.Modules.Text;
using Blip.Engine.Modules.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>Image-text matching (ITM, with cross-attention) and contrastive similarity (ITC, without).</summary>
public sealed class BlipForImageTextRetrieval : nn.Module
{
    private readonly BlipVisionModel vision_model;
    private readonly BlipTextModel text_encoder;
    private readonly Linear vision_proj;  // [E,Cv]
    private readonly Linear text_proj;    // [E,Ct]
    private readonly Linear itm_head;     // [2,Ct]

    /// <summary>Creates the model with uninitialised weights for <paramref name="config"/>.</summary>
    public BlipForImageTextRetrieval(BlipConfig config) : base(nameof(BlipForImageTextRetrieval))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        vision_model = new BlipVisionModel(config.VisionConfig);
        text_encoder = new BlipTextModel(config.TextConfig);
        vision_proj = nn.Linear(config.VisionConfig.HiddenSize, config.ImageTextHiddenSize);
        text_proj = nn.Linear(config.TextConfig.HiddenSize, config.ImageTextHiddenSize);
        itm_head = nn.Linear(config.TextConfig.HiddenSize, 2);
        RegisterComponents();
    }

    /// <summary>Loads a Hub-layout folder, strictly by transformers' key names.</summary>
    /// <remarks>With <paramref name="memoryMap"/>, parameters are views of a private (copy-on-write) mapping of the
    /// file: ~0.5 s for 1.78 GB and no second copy, for inference. Replace such a file by writing a new one and renaming
    /// it, never in place. The default copies the weights into memory the model owns (use it to train).</remarks>
    public static BlipForImageTextRetrieval FromPretrained(string folder, Device? device = null, ScalarType? dtype = null, bool memoryMap = false) =>
        PretrainedLoader.Load(folder, c => new BlipForImageTextRetrieval(c), device, dtype, memoryMap);

    /// <summary>The configuration this model was built from.</summary>
    public BlipConfig Config { get; }

    /// <summary>The image encoder.</summary>
    public BlipVisionModel VisionModel => vision_model;

    /// <summary>The text encoder (with cross-attention layers).</summary>
    public BlipTextModel TextEncoder => text_encoder;

    /// <summary>ITM logits [B,2] of text i against image i: the text encoder over <paramref name="inputIds"/> as
    /// tokenized, cross-attending to the whole image sequence, <c>itm_head</c> on token 0.</summary>
    /// <param name="imageEmbeds">Vision last hidden state [Bi,S,Cv]; B must be a multiple of Bi.</param>
    /// <param name="inputIds">[B,T] ids.</param>
    /// <param name="attentionMask">[B,T] padding mask, or null.</param>
    public Tensor ItmLogits(Tensor imageEmbeds, Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var states = text_encoder.Forward(inputIds, attentionMask, causal: false, encoderStates: imageEmbeds); // [B,T,C]
        return itm_head.forward(states[.., 0, ..]).MoveToOuterDisposeScope();                                 // [B,2]
    }

    /// <summary>Normalised image features [B,E]: <c>normalize(vision_proj(image[:,0]))</c>.</summary>
    public Tensor ImageFeatures(Tensor imageEmbeds)
    {
        using var scope = NewDisposeScope();
        return nn.functional.normalize(vision_proj.forward(imageEmbeds[.., 0, ..]), dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>Normalised text features [B,E]: the text encoder WITHOUT the image, <c>normalize(text_proj(text[:,0]))</c>.</summary>
    public Tensor TextFeatures(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var states = text_encoder.Forward(inputIds, attentionMask, causal: false);                                  // [B,T,C]
        return nn.functional.normalize(text_proj.forward(states[.., 0, ..]), dim: -1).MoveToOuterDisposeScope();   // [B,E]
    }

    /// <summary>ITC cosine matrix [Bi,Bt] = image features · text featuresᵀ, as transformers' <c>use_itm_head=False</c>.</summary>
    public Tensor ItcSimilarity(Tensor imageEmbeds, Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        return ImageFeatures(imageEmbeds).matmul(TextFeatures(inputIds, attentionMask).t()).MoveToOuterDisposeScope();
    }
}
