// A Hugging Face BLIP config.json (transformers' BlipConfig): text and vision halves plus the heads' sizes.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blip.Engine.Config;

/// <summary>The whole of a BLIP <c>config.json</c>, immutable, validated once when read.</summary>
/// <remarks>
/// As transformers' <c>BlipConfig.__post_init__</c>, <see cref="BlipTextConfig.EncoderHiddenSize"/> is set to the vision
/// width whatever the file says, and a missing <c>text_config</c>/<c>vision_config</c> takes the defaults. Every field
/// transformers declares must have the JSON kind its declaration allows (its configs are strict dataclasses: an int
/// field refuses 12.0, a float field refuses 0, a bool field refuses 1), also the fields Blip.Engine does not use.
/// </remarks>
public sealed record BlipConfig
{
    /// <summary>The text encoder/decoder settings.</summary>
    public BlipTextConfig TextConfig { get; init; } = new();

    /// <summary>The vision transformer settings.</summary>
    public BlipVisionConfig VisionConfig { get; init; } = new();

    /// <summary>Width of the ITC projections (<c>vision_proj</c>, <c>text_proj</c>).</summary>
    public int ImageTextHiddenSize { get; init; } = 256;

    /// <summary>Projection width of the deprecated <c>BlipModel</c>; unused by the task models.</summary>
    public int ProjectionDim { get; init; } = 512;

    /// <summary>Label smoothing for the deprecated <c>BlipModel</c>; the LM loss uses the text config's.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>Whether output embeddings are tied to input embeddings (either this or the text config's flag ties
    /// the LM head, as in transformers; <see cref="Parse"/> folds it into <c>TextConfig.TieWordEmbeddings</c>).</summary>
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>The dtype the checkpoint says its weights are in (<c>"float32"</c>, …), or null; transformers 5 writes
    /// <c>dtype</c>, older versions <c>torch_dtype</c>. A load that asks for no dtype uses it, as <c>dtype="auto"</c>.</summary>
    public string? Dtype { get; init; }

    /// <summary>The older spelling of <see cref="Dtype"/>; <see cref="Dtype"/> wins when both are present.</summary>
    public string? TorchDtype { get; init; }

    /// <summary>The transformers classes this checkpoint was saved from.</summary>
    public IReadOnlyList<string> Architectures { get; init; } = [];

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Reads and validates a <c>config.json</c> (or a model folder that holds one).</summary>
    /// <exception cref="ConfigException">The file is missing, is not JSON, or a field is invalid; the message names it.</exception>
    public static BlipConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        // A model folder means its config.json, unless the folder is itself a directory named config.json.
        if (Directory.Exists(path))
        {
            string inside = System.IO.Path.Combine(path, "config.json");
            bool namedConfig = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(path)) == "config.json";
            if (File.Exists(inside) || !namedConfig) path = inside;
        }
        if (Directory.Exists(path)) throw new ConfigException(path, "", "is a directory, not a file");
        if (!File.Exists(path)) throw new ConfigException(path, "", "file not found");
        return Parse(Utf8Text.Read(path), path);
    }

    /// <summary>Parses and validates config JSON text; <paramref name="source"/> names it in errors.</summary>
    public static BlipConfig Parse(string json, string source = "config.json")
    {
        BlipConfig? config;
        try
        {
            using (var document = JsonDocument.Parse(json, DocumentOptions)) ConfigFieldTypes.Check(document.RootElement, source);
            config = JsonSerializer.Deserialize<BlipConfig>(json, JsonOptions);
        }
        catch (JsonException e)
        {
            throw new ConfigException(source, e.Path ?? "", e.Message, e);
        }
        if (config is null) throw new ConfigException(source, "", "the file holds JSON null, not a config object");
        // "text_config": null means the defaults, as in transformers.
        var vision = config.VisionConfig ?? new BlipVisionConfig();
        var text = (config.TextConfig ?? new BlipTextConfig()) with { EncoderHiddenSize = vision.HiddenSize };
        // transformers ties the LM head when either level says so: the task class and its text decoder both list the
        // tie in _tied_weights_keys, each gated on its own config's flag.
        text = text with { TieWordEmbeddings = text.TieWordEmbeddings || config.TieWordEmbeddings };
        config = config with { TextConfig = text, VisionConfig = vision, Architectures = config.Architectures ?? [] };
        config.Validate(source);
        return config;
    }

    /// <summary>Throws <see cref="ConfigException"/> naming the first invalid field.</summary>
    public void Validate(string source)
    {
        VisionConfig.Validate(source);
        TextConfig.Validate(source);
        ConfigException.RequireSize(source, "image_text_hidden_size", ImageTextHiddenSize, ConfigLimits.MaxHiddenSize);
    }
}
