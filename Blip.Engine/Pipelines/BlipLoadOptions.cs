// How a pipeline opens a model: where it runs, in which dtype, and how Hub ids are resolved.
using Blip.Engine.Checkpoints;
using Blip.Engine.Processing;

namespace Blip.Engine.Pipelines;

/// <summary>Options for opening a model folder or Hub id.</summary>
public sealed record BlipLoadOptions
{
    /// <summary>Defaults: CPU, float32, Hub settings from the environment.</summary>
    public static BlipLoadOptions Default { get; } = new();

    /// <summary><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary><c>float32</c>, <c>bfloat16</c> or <c>float16</c>.</summary>
    public string DType { get; init; } = "float32";

    /// <summary>Hub endpoint, cache, token, offline mode; null reads the environment (<c>HF_HOME</c>, <c>HF_TOKEN</c>, …).</summary>
    public HubOptions? Hub { get; init; }

    /// <summary>Download progress for Hub ids that are not cached yet, or null.</summary>
    public IProgress<HubDownloadProgress>? DownloadProgress { get; init; }

    /// <summary>Image decoding limits (pixel limit, EXIF orientation).</summary>
    public ImageDecodeOptions ImageDecoding { get; init; } = ImageDecodeOptions.Default;
}
