// transformers' BlipVisionEmbeddings: patch embedding (a strided convolution), class token, position embeddings.
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>Turns pixels into patch tokens: <c>[B,3,H,W] → [B,S,C]</c>, class token first.</summary>
public sealed class BlipVisionEmbeddings : nn.Module<Tensor, bool, Tensor>
{
    private readonly Parameter class_embedding;     // [1,1,C]
    private readonly Conv2d patch_embedding;        // [C,3,P,P]
    private readonly Parameter position_embedding;  // [1,S,C]
    private readonly int patchSize;

    /// <summary>Creates the embeddings with uninitialised weights (load a checkpoint next).</summary>
    public BlipVisionEmbeddings(BlipVisionConfig config) : base(nameof(BlipVisionEmbeddings))
    {
        ArgumentNullException.ThrowIfNull(config);
        patchSize = config.PatchSize;
        class_embedding = nn.Parameter(empty(1, 1, config.HiddenSize));
        patch_embedding = nn.Conv2d(3, config.HiddenSize, config.PatchSize, stride: config.PatchSize);
        position_embedding = nn.Parameter(empty(1, config.NumPositions, config.HiddenSize));
        RegisterComponents();
    }

    /// <summary>Embeds <paramref name="pixelValues"/> [B,3,H,W]; with <paramref name="interpolatePosEncoding"/>,
    /// position embeddings are resized (bicubic) to the image's patch grid, as transformers does.</summary>
    public override Tensor forward(Tensor pixelValues, bool interpolatePosEncoding)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        if (pixelValues.dim() != 4 || pixelValues.shape[1] != 3)
            throw new ArgumentException($"pixel_values must be [B,3,H,W], got [{string.Join(",", pixelValues.shape)}]", nameof(pixelValues));
        InputChecks.SameDevice(pixelValues, patch_embedding.weight!, nameof(pixelValues));
        using var scope = NewDisposeScope();
        long batch = pixelValues.shape[0], height = pixelValues.shape[2], width = pixelValues.shape[3];
        // transformers fails here too, in the convolution (libtorch's RuntimeError, an ExternalException here).
        if (height < patchSize || width < patchSize)
            throw new ArgumentException($"image {height}x{width} is smaller than one {patchSize}x{patchSize} patch", nameof(pixelValues));
        var dtype = patch_embedding.weight!.dtype;
        var patches = patch_embedding.forward(pixelValues.to(dtype));          // [B,C,H/P,W/P]
        patches = patches.flatten(2).transpose(1, 2);                         // [B,S-1,C]
        var cls = class_embedding.expand(batch, 1, -1).to(dtype);             // [B,1,C]
        var embeddings = cat([cls, patches], dim: 1);                         // [B,S,C]
        var positions = interpolatePosEncoding
            ? InterpolatePositions(embeddings.shape[1] - 1, height, width)
            : position_embedding;
        if (!interpolatePosEncoding && embeddings.shape[1] != position_embedding.shape[1])
            throw new ArgumentException(
                $"image {height}x{width} gives {embeddings.shape[1]} tokens but the checkpoint has {position_embedding.shape[1]} " +
                "positions; resize the image or pass interpolatePosEncoding", nameof(pixelValues));
        return (embeddings + positions.to(dtype)).MoveToOuterDisposeScope();
    }

    private Tensor InterpolatePositions(long numPatches, long height, long width)
    {
        long numPositions = position_embedding.shape[1] - 1;
        if (numPatches == numPositions && height == width) return position_embedding;
        long dim = position_embedding.shape[2];
        long side = (long)Math.Sqrt(numPositions);
        var classPos = position_embedding[.., ..1];                              // [1,1,C]
        var grid = position_embedding[.., 1..]
            .reshape(1, side, side, dim)                                         // [1,g,g,C]
            .permute(0, 3, 1, 2);                                                // [1,C,g,g]
        grid = nn.functional.interpolate(grid, size: [height / patchSize, width / patchSize],
            mode: InterpolationMode.Bicubic, align_corners: false);              // [1,C,h,w]
        var patchPos = grid.permute(0, 2, 3, 1).reshape(1, -1, dim);             // [1,h*w,C]
        return cat([classPos, patchPos], dim: 1);                                // [1,S',C]
    }
}
