// What every pipeline holds besides its network: the resolved folder, device, dtype, image processor, tokenizer.
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>The parts of an opened model that are not the network.</summary>
internal sealed class ModelContext : IDisposable
{
    private ModelContext(string folder, Device device, ScalarType dtype, BlipImageProcessor images, BlipTokenizer tokenizer)
    {
        Folder = folder;
        Device = device;
        DType = dtype;
        Images = images;
        Tokenizer = tokenizer;
    }

    public string Folder { get; }

    public Device Device { get; }

    public ScalarType DType { get; }

    public BlipImageProcessor Images { get; }

    public BlipTokenizer Tokenizer { get; }

    /// <summary>Resolves <paramref name="modelIdOrPath"/> (a folder, or a Hub id through the Hugging Face cache) and
    /// reads its processor and tokenizer files.</summary>
    public static async Task<ModelContext> OpenAsync(string modelIdOrPath, BlipLoadOptions options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelIdOrPath);
        var device = ParseDevice(options.Device);
        var dtype = ParseDType(options.DType);
        string folder;
        using (var resolver = new HubModelResolver())
            folder = await resolver.ResolveModelFolderAsync(modelIdOrPath, options.Hub ?? HubOptions.FromEnvironment(),
                options.DownloadProgress, cancellationToken).ConfigureAwait(false);
        var images = new BlipImageProcessor(ImageProcessorConfig.Load(folder), options.ImageDecoding);
        return new ModelContext(folder, device, dtype, images, BlipTokenizer.Load(folder));
    }

    /// <summary>Decodes and preprocesses images into [B,3,H,W] on the model's device and dtype.</summary>
    public Tensor Pixels(IEnumerable<string> imagePaths)
    {
        using var cpu = Images.Preprocess(imagePaths);
        return cpu.to(DType, Device);
    }

    /// <summary>Tokenizes texts into ids and mask [B,T] on the model's device, as one BlipProcessor call over
    /// <paramref name="call"/>'s texts: a call of one text (or of the same text for every image) is an unpadded
    /// <c>processor(text=...)</c> call, which truncates to the tokenizer's <see cref="BlipTokenizer.ProcessorMaxLength"/>
    /// when its files set one; a call of different texts is a <c>padding=True</c> call, which transformers does not
    /// truncate.</summary>
    /// <param name="texts">The texts to encode: all of the call's, or a chunk of them.</param>
    /// <param name="call">The public call's texts, which decide how it is read (default: <paramref name="texts"/>).</param>
    public (Tensor Ids, Tensor Mask) Tokens(IReadOnlyList<string> texts, IReadOnlyList<string>? call = null)
    {
        call ??= texts;
        bool unpadded = call.Count > 0 && call.All(t => t == call[0]);
        var (ids, mask) = Tokenizer.EncodeBatch(texts, maxLength: unpadded ? Tokenizer.ProcessorMaxLength : null).ToTensors();
        return (ids.to(Device), mask.to(Device));
    }

    /// <summary><c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>; CUDA only when the CUDA backend is loaded and sees a device.</summary>
    /// <param name="text">The device's name.</param>
    /// <param name="option">What an error names: the caller's setting (BlipLoadOptions.Device), not this parameter.</param>
    public static Device ParseDevice(string text, string option = nameof(BlipLoadOptions.Device))
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text, option);
        var lower = text.Trim().ToLowerInvariant();
        if (lower == "cpu") return CPU;
        if (lower == "cuda" || lower.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"device '{text}': no CUDA device is available to this process (build with -p:TorchBackend=cuda-linux on a machine with an NVIDIA GPU)", option);
            return torch.device(lower);
        }
        throw new ArgumentException($"device '{text}' is not one of cpu, cuda, cuda:N", option);
    }

    /// <summary><c>float32</c>, <c>bfloat16</c> or <c>float16</c> (also <c>fp32</c>, <c>bf16</c>, <c>fp16</c>).</summary>
    /// <param name="text">The dtype's name.</param>
    /// <param name="option">What an error names: the caller's setting (BlipLoadOptions.DType), not this parameter.</param>
    public static ScalarType ParseDType(string text, string option = nameof(BlipLoadOptions.DType)) => text?.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "float" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"dtype '{text}' is not one of float32, bfloat16, float16", option),
    };

    public void Dispose() => Tokenizer.Dispose();
}
