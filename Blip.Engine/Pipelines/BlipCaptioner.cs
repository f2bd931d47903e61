// The captioning front door: image files in, captions out, as transformers' BlipForConditionalGeneration.generate().
using Blip.Engine.Generation;
using Blip.Engine.Models;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>Captions images with a <c>blip-image-captioning-*</c> checkpoint.</summary>
/// <remarks>Thread-safe: calls from several threads are serialised on one lock (the model and its K/V cache are not
/// reentrant). Open one instance per thread for parallel work; each holds its own weights.</remarks>
public sealed class BlipCaptioner : IDisposable
{
    private readonly ModelContext context;
    private readonly BlipForConditionalGeneration model;
    private readonly Lock gate = new();
    private bool disposed;

    private BlipCaptioner(ModelContext context, BlipForConditionalGeneration model)
    {
        this.context = context;
        this.model = model;
        Defaults = GenerationOptions.FromPretrained(context.Folder);
    }

    /// <summary>Opens a model folder or a Hub id (downloaded into the Hugging Face cache on first use).</summary>
    public static async Task<BlipCaptioner> OpenAsync(string modelIdOrPath, BlipLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= BlipLoadOptions.Default;
        var context = await ModelContext.OpenAsync(modelIdOrPath, options, cancellationToken).ConfigureAwait(false);
        try
        {
            return new BlipCaptioner(context, BlipForConditionalGeneration.FromPretrained(context.Folder, context.Device, context.DType));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Synchronous <see cref="OpenAsync"/>.</summary>
    public static BlipCaptioner Open(string modelIdOrPath, BlipLoadOptions? options = null) =>
        OpenAsync(modelIdOrPath, options).GetAwaiter().GetResult();

    /// <summary>The checkpoint's generation settings (<c>generation_config.json</c> over transformers' defaults).</summary>
    public GenerationOptions Defaults { get; }

    /// <summary>The resolved model folder.</summary>
    public string ModelFolder => context.Folder;

    /// <summary>Captions one image; <paramref name="prompt"/> starts the caption (conditional captioning).</summary>
    public CaptionResult Caption(string imagePath, string? prompt = null, GenerationOptions? options = null) =>
        Caption([imagePath], prompt, options)[0];

    /// <summary>Captions a batch of images in one generate() call, all with the same optional prompt.</summary>
    public IReadOnlyList<CaptionResult> Caption(IReadOnlyList<string> imagePaths, string? prompt = null, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(imagePaths);
        if (imagePaths.Count == 0) return [];
        options ??= Defaults;
        options.Validate();
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            var pixels = context.Pixels(imagePaths);
            Tensor? ids = null, mask = null;
            if (prompt is not null) (ids, mask) = context.Tokens(Enumerable.Repeat(prompt, imagePaths.Count).ToList());
            using var result = model.Generate(pixels, ids, mask, options);
            int perImage = result.Tokens.Count / imagePaths.Count;
            return result.Tokens.Select((tokens, i) =>
                new CaptionResult(imagePaths[i / perImage], context.Tokenizer.Decode(tokens), tokens)).ToList();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            model.Dispose();
            context.Dispose();
        }
    }
}
