// The largest sizes a config.json may ask for: far above every real checkpoint, far below what would take minutes to
// build or overflow the arithmetic of shapes.
namespace Blip.Engine.Config;

/// <summary>Upper bounds on the size fields of <c>config.json</c>, checked by <see cref="BlipConfig.Validate"/>.</summary>
/// <remarks>
/// transformers sets no bounds; a corrupt or hostile file (<c>"num_hidden_layers": 100000</c>) would then build 100,000
/// layers (minutes, on the meta device too) before the checkpoint showed the mismatch. Every bound is many times the
/// largest real value: BLIP's ViT-L has 24 layers, width 1024, MLP 4096, 16 heads; its BERT 12 layers, width 768,
/// vocabulary 30,524, 512 positions; the largest published transformers have ~126 layers, width ~16k, MLP ~74k,
/// vocabularies ~256k. Heads need no bound of their own: they divide the width.
/// </remarks>
public static class ConfigLimits
{
    /// <summary>Layers of either encoder (BLIP: 12 or 24).</summary>
    public const int MaxLayers = 1024;

    /// <summary>Width of tokens and of the ITC projection (BLIP: 256–1024).</summary>
    public const int MaxHiddenSize = 65_536;

    /// <summary>Width of a feed-forward layer (BLIP: 3072 or 4096).</summary>
    public const int MaxIntermediateSize = 262_144;

    /// <summary>Text vocabulary (BLIP: 30,524).</summary>
    public const int MaxVocabSize = 4_194_304;

    /// <summary>Learned text positions (BLIP: 512).</summary>
    public const int MaxPositionEmbeddings = 1_048_576;

    /// <summary>Side of a patch (BLIP: 16; ViTs use 8–32).</summary>
    public const int MaxPatchSize = 1024;

    /// <summary>Patches per image, (image_size / patch_size)² (BLIP: 576 at 384 px; 1,048,576 is 16,384 px in patches
    /// of 16). It also keeps the token count S far inside an int.</summary>
    public const int MaxImagePatches = 1_048_576;

    /// <summary>Height or width a processor config may resize to (BLIP: 384 or 480); a float32 image of this side
    /// is 3 GiB.</summary>
    public const int MaxImageSide = 16_384;
}
