// The vision half of a Hugging Face BLIP config.json ("vision_config"), as transformers' BlipVisionConfig.
using System.Text.Json.Serialization;

namespace Blip.Engine.Config;

/// <summary>Vision transformer settings, read from the <c>vision_config</c> object of <c>config.json</c>.</summary>
/// <remarks>Defaults are transformers' <c>BlipVisionConfig</c> defaults (ViT-B/16 at 384 px).</remarks>
public sealed record BlipVisionConfig
{
    /// <summary>Width C of every token (768 for ViT-B, 1024 for ViT-L).</summary>
    public int HiddenSize { get; init; } = 768;

    /// <summary>Width of the MLP's hidden layer.</summary>
    public int IntermediateSize { get; init; } = 3072;

    /// <summary>Number of encoder layers.</summary>
    public int NumHiddenLayers { get; init; } = 12;

    /// <summary>Attention heads per layer.</summary>
    public int NumAttentionHeads { get; init; } = 12;

    /// <summary>Side of the square input image the position embeddings were trained for.</summary>
    public int ImageSize { get; init; } = 384;

    /// <summary>Side of a square patch.</summary>
    public int PatchSize { get; init; } = 16;

    /// <summary>MLP activation; every BLIP checkpoint says <c>gelu</c> (exact, erf-based); <see cref="HiddenActivation.Supported"/> lists the others.</summary>
    public string HiddenAct { get; init; } = "gelu";

    /// <summary>LayerNorm epsilon (1e-5 in Hub configs; the original BLIP code used 1e-6).</summary>
    public double LayerNormEps { get; init; } = 1e-5;

    /// <summary>Attention dropout probability (training only).</summary>
    public double AttentionDropout { get; init; }

    /// <summary>Standard deviation for weight initialisation.</summary>
    public double InitializerRange { get; init; } = 1e-10;

    /// <summary>Head width D = C / H.</summary>
    [JsonIgnore]
    public int HeadDim => HiddenSize / NumAttentionHeads;

    /// <summary>Patches per image at the configured size.</summary>
    /// <exception cref="OverflowException">The count does not fit an int (<see cref="Validate"/> refuses such sizes).</exception>
    [JsonIgnore]
    public int NumPatches => checked((ImageSize / PatchSize) * (ImageSize / PatchSize));

    /// <summary>Tokens per image S: patches plus the class token (577 for 384 px / 16).</summary>
    [JsonIgnore]
    public int NumPositions => checked(NumPatches + 1);

    /// <summary>Throws <see cref="ConfigException"/> naming the first field that cannot describe a network.</summary>
    public void Validate(string source)
    {
        ConfigException.RequireSize(source, "vision_config.hidden_size", HiddenSize, ConfigLimits.MaxHiddenSize);
        ConfigException.RequireSize(source, "vision_config.intermediate_size", IntermediateSize, ConfigLimits.MaxIntermediateSize);
        ConfigException.RequireSize(source, "vision_config.num_hidden_layers", NumHiddenLayers, ConfigLimits.MaxLayers);
        ConfigException.RequirePositive(source, "vision_config.num_attention_heads", NumAttentionHeads);
        ConfigException.RequirePositive(source, "vision_config.image_size", ImageSize);
        ConfigException.RequirePositive(source, "vision_config.patch_size", PatchSize);
        ConfigException.RequirePositive(source, "vision_config.layer_norm_eps", LayerNormEps);
        ConfigException.RequireProbability(source, "vision_config.attention_dropout", AttentionDropout);
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ConfigException(source, "vision_config.num_attention_heads",
                $"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        if (PatchSize > ConfigLimits.MaxPatchSize)
            throw new ConfigException(source, "vision_config.patch_size",
                $"patch_size {PatchSize} (image_size {ImageSize}) is beyond any real checkpoint; Blip.Engine accepts at most {ConfigLimits.MaxPatchSize} (ConfigLimits)");
        if (ImageSize % PatchSize != 0)
            throw new ConfigException(source, "vision_config.patch_size",
                $"patch_size {PatchSize} does not divide image_size {ImageSize}");
        long side = ImageSize / PatchSize;  // squared in long: in int, (1048576 / 16)² = 2³² wraps to 0
        if (side * side > ConfigLimits.MaxImagePatches)
            throw new ConfigException(source, "vision_config.image_size",
                $"image_size {ImageSize} in patches of patch_size {PatchSize} makes {side}² = {side * side} patches; Blip.Engine accepts at most {ConfigLimits.MaxImagePatches} (ConfigLimits)");
        HiddenActivation.Require(source, "vision_config.hidden_act", HiddenAct);
    }
}
