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

    /// <summary>The largest MLP activation (images × tokens × intermediate size × element size) one encoder pass may
    /// allocate during CPU inference; larger batches run in groups of images. See <see cref="ImagesPerPass"/>.</summary>
    internal static long ActivationBudgetBytes { get; set; } = 30L << 20;

    private VisionOutput Encode(Tensor pixelValues, bool interpolatePosEncoding)
    {
        using var scope = NewDisposeScope();
        long group = ImagesPerPass(pixelValues), batch = group == long.MaxValue ? 0 : pixelValues.shape[0];
        Tensor hidden;
        if (group >= batch)
        {
            hidden = encoder.forward(embeddings.forward(pixelValues, interpolatePosEncoding));   // [B,S,C]
        }
        else
        {
            var parts = new List<Tensor>();
            for (long start = 0; start < batch; start += group)
            {
                using var pass = NewDisposeScope();
                var images = pixelValues.narrow(0, start, Math.Min(group, batch - start));        // [g,3,H,W]
                parts.Add(encoder.forward(embeddings.forward(images, interpolatePosEncoding)).MoveToOuterDisposeScope()); // [g,S,C]
            }
            hidden = cat(parts, 0);                                                            // [B,S,C]
        }
        var last = post_layernorm.forward(hidden);                                             // [B,S,C]
        var pooled = post_layernorm.forward(last[.., 0, ..]);                                  // [B,C]
        return new VisionOutput(last, pooled).MoveToOuterDisposeScope();
    }

    /// <summary>Images per encoder pass: all of them, except in CPU inference when the MLP activation of the whole
    /// batch would exceed <see cref="ActivationBudgetBytes"/>.</summary>
    /// <remarks>Why: glibc serves allocations over 32 MB (its largest dynamic mmap threshold) with fresh mmap'd pages
    /// every time, and first-touching fresh pages costs ~0.85 s per GB on the machine of docs/BENCHMARKS.md. ViT-L at
    /// 384 px for 8 images allocates 75 MB MLP buffers in every layer: 3.1–6.0 GB of page faults per forward. In groups
    /// of 3 (28 MB), the freed buffers are reused from the heap: ~0 faults, and 8 images took 30.8–30.9 s against
    /// 32.5–35.8 s in one pass (3 alternating rounds in one process); 1 image per pass was slower (34.3–34.6 s: smaller
    /// GEMMs). Every image's tokens are computed by the same ops either way.</remarks>
    internal long ImagesPerPass(Tensor pixelValues)
    {
        if (is_grad_enabled() || pixelValues.device_type != DeviceType.CPU || pixelValues.dim() != 4) return long.MaxValue;
        long patch = Config.PatchSize;
        long tokens = (pixelValues.shape[2] / patch) * (pixelValues.shape[3] / patch) + 1;
        long perImage = tokens * Config.IntermediateSize * post_layernorm.weight!.ElementSize;
        return Math.Max(1, ActivationBudgetBytes / Math.Max(1, perImage));
    }
}
