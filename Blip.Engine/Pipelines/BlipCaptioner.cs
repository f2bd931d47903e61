// The captioning front door: image files in, captions out, as transformers' BlipForConditionalGeneration.generate().
using Blip.Engine.Generation;
using Blip.Engine.Models;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>Captions images with a <c>blip-image-captioning-*</c> checkpoint.</summary>
/// <remarks>Thread-safe: calls from several threads are serialised on one lock (the model and its K/V cache are not
/// reentrant). Open one instance per thread for parallel work; each holds its own weights.</remarks>
public sealed class BlipCaptioner : BlipPipeline<BlipForConditionalGeneration>
{
    private BlipCaptioner(ModelContext context, BlipForConditionalGeneration model) : base(context, model) =>
        Defaults = GenerationOptions.FromPretrained(context.Folder);

    /// <summary>Opens a model folder or a Hub id (downloaded into the Hugging Face cache on first use).</summary>
    public static Task<BlipCaptioner> OpenAsync(string modelIdOrPath, BlipLoadOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(modelIdOrPath, options, (f, d, t) => BlipForConditionalGeneration.FromPretrained(f, d, t, memoryMap: true), (c, m) => new BlipCaptioner(c, m), cancellationToken);

    /// <summary>Synchronous <see cref="OpenAsync"/>.</summary>
    public static BlipCaptioner Open(string modelIdOrPath, BlipLoadOptions? options = null) =>
        OpenAsync(modelIdOrPath, options).GetAwaiter().GetResult();

    /// <summary>The checkpoint's generation settings (<c>generation_config.json</c> over transformers' defaults).</summary>
    public GenerationOptions Defaults { get; }

    /// <summary>Captions one image; <paramref name="prompt"/> starts the caption (conditional captioning).</summary>
    /// <exception cref="ArgumentException"><see cref="GenerationOptions.NumReturnSequences"/> is above 1: one caption
    /// cannot hold them; the list overload returns them all.</exception>
    public CaptionResult Caption(string imagePath, string? prompt = null, GenerationOptions? options = null)
    {
        if ((options ?? Defaults).NumReturnSequences > 1)
            throw GenerationOptions.Invalid(nameof(GenerationOptions.NumReturnSequences),
                $"is {(options ?? Defaults).NumReturnSequences}: Caption(path) returns one caption; Caption([path]) returns all of them");
        return Caption([imagePath], prompt, options)[0];
    }

    /// <summary>Captions a batch of images in one generate() call, all with the same optional prompt: each image's
    /// <see cref="GenerationOptions.NumReturnSequences"/> captions in turn, best first for beam search.</summary>
    public IReadOnlyList<CaptionResult> Caption(IReadOnlyList<string> imagePaths, string? prompt = null, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(imagePaths);
        if (imagePaths.Count == 0) return [];
        options ??= Defaults;
        options.Validate();
        return Locked<IReadOnlyList<CaptionResult>>(() =>
        {
            var pixels = Context.Pixels(imagePaths);
            Tensor? ids = null, mask = null;
            if (prompt is not null) (ids, mask) = Context.Tokens(Enumerable.Repeat(prompt, imagePaths.Count).ToList());
            using var result = Model.Generate(pixels, ids, mask, options);
            int perImage = result.Tokens.Count / imagePaths.Count;
            return result.Tokens.Select((tokens, i) =>
                new CaptionResult(imagePaths[i / perImage], Context.Tokenizer.Decode(tokens), tokens)).ToList();
        });
    }
}
