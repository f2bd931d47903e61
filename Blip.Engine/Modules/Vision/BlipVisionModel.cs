// transformers' BlipVisionModel: embeddings, encoder, post_layernorm; the pooled token as transformers computes it.
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>The ViT image encoder, <c>[B,3,H,W] → [B,S,C]</c>.</summary>
public sealed class BlipVisionModel : nn.Module<Tensor, bool, VisionOutput>
{
    private readonly BlipVisionEmbeddings embeddings;
    private readonly BlipEncoder encoder;
    private readonly LayerNorm post_layernorm;

    /// <summary>Creates the encoder for <paramref name="config"/>.</summary>
    public BlipVisionModel(BlipVisionConfig config) : base(nameof(BlipVisionModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        embeddings = new BlipVisionEmbeddings(config);
        encoder = new BlipEncoder(config);
        post_layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <summary>The configuration this encoder was built from.</summary>
    public BlipVisionConfig Config { get; }

    /// <summary>The patch/position embeddings.</summary>
    public BlipVisionEmbeddings Embeddings => embeddings;

    /// <summary>The encoder layers.</summary>
    public BlipEncoder Encoder => encoder;

    /// <summary>Encodes at the checkpoint's image size.</summary>
    public VisionOutput forward(Tensor pixelValues) => forward(pixelValues, false);

    /// <inheritdoc/>
    public override VisionOutput forward(Tensor pixelValues, bool interpolatePosEncoding)
    {
        var output = Encode(pixelValues, interpolatePosEncoding);
        // Inference on the CPU: the layers' activations are free now; give glibc's retained heap back (see NativeHeap).
        if (!is_grad_enabled() && output.LastHiddenState.device_type == DeviceType.CPU) NativeHeap.ReleaseFreeMemory();
        return output;
    }

    private VisionOutput Encode(Tensor pixelValues, bool interpolatePosEncoding)
    {
        using var scope = NewDisposeScope();
        var hidden = encoder.forward(embeddings.forward(pixelValues, interpolatePosEncoding)); // [B,S,C]
        var last = post_layernorm.forward(hidden);                                             // [B,S,C]
        var pooled = post_layernorm.forward(last[.., 0, ..]);                                  // [B,C]
        return new VisionOutput(last, pooled).MoveToOuterDisposeScope();
    }
}
