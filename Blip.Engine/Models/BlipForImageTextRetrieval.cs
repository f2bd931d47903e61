// transformers' BlipForImageTextRetrieval: ITM head and ITC projections over a vision model and a text encoder.
using Blip.Engine.Config;
using Blip.Engine.Modules;
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

    /// <summary>Normalised text features [N,E] of many texts, <paramref name="batchSize"/> at a time, shortest first.</summary>
    /// <remarks>A tokenizer pads N texts to the longest of all N. Here rows are sorted by their extent (last token
    /// with mask 1, plus one) and every batch runs cut to its own longest extent; the cut columns are padding, which
    /// attention masks out and positions never reach, so the features equal <see cref="TextFeatures(Tensor, Tensor?)"/>'s
    /// up to float rounding. Left-padded rows have full extent and are simply not cut.</remarks>
    /// <param name="inputIds">[N,T] ids.</param>
    /// <param name="attentionMask">[N,T] padding mask.</param>
    /// <param name="batchSize">Texts per text-encoder call.</param>
    public Tensor TextFeatures(Tensor inputIds, Tensor attentionMask, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        ArgumentNullException.ThrowIfNull(attentionMask);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        if (inputIds.dim() != 2 || !attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"input_ids [{string.Join(",", inputIds.shape)}] and attention_mask [{string.Join(",", attentionMask.shape)}] must both be [N,T]", nameof(attentionMask));
        using var scope = NewDisposeScope();
        long n = inputIds.shape[0], t = inputIds.shape[1];
        var positions = arange(1, t + 1, dtype: ScalarType.Int64, device: attentionMask.device);          // [T]
        var extent = attentionMask.ne(0).to(ScalarType.Int64).mul(positions).amax([1]);                    // [N]
        var order = extent.sort(0, false, true).Indices;                                                    // [N]
        var sortedExtent = extent.index_select(0, order).cpu();
        var features = empty(n, Config.ImageTextHiddenSize, dtype: text_proj.weight!.dtype, device: text_proj.weight!.device);
        long bytesPerToken = Config.TextConfig.IntermediateSize * features.ElementSize;
        for (long start = 0, count; start < n; start += count)
        {
            using var batch = NewDisposeScope();
            count = Math.Min(batchSize, n - start);
            long width = Math.Max(1, sortedExtent[start + count - 1].item<long>());
            // Fewer texts where the batch's feed-forward activation would exceed the budget (see ActivationBudget);
            // the shorter batch is never wider, so it fits.
            count = Math.Min(count, ActivationBudget.Rows(width * bytesPerToken, features.device));
            width = Math.Max(1, sortedExtent[start + count - 1].item<long>());
            var rows = order.narrow(0, start, count).to(inputIds.device);                                  // [b]
            var ids = inputIds.index_select(0, rows).narrow(1, 0, width);                                  // [b,w]
            var mask = attentionMask.index_select(0, rows).narrow(1, 0, width);
            features.index_copy_(0, rows.to(features.device), TextFeatures(ids, mask));
        }

        return features.MoveToOuterDisposeScope();
    }

    /// <summary>ITC cosine matrix [Bi,Bt] = image features · text featuresᵀ, as transformers' <c>use_itm_head=False</c>.</summary>
    public Tensor ItcSimilarity(Tensor imageEmbeds, Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        return ImageFeatures(imageEmbeds).matmul(TextFeatures(inputIds, attentionMask).t()).MoveToOuterDisposeScope();
    }
}
