// The VQA front door: an image and a question in, an answer out, as transformers' BlipForQuestionAnswering.generate().
using Blip.Engine.Generation;
using Blip.Engine.Models;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>Answers questions about images with a <c>blip-vqa-*</c> checkpoint.</summary>
/// <remarks>Thread-safe: calls are serialised on one lock.</remarks>
public sealed class BlipQuestionAnswerer : IDisposable
{
    private readonly ModelContext context;
    private readonly BlipForQuestionAnswering model;
    private readonly Lock gate = new();
    private bool disposed;

    private BlipQuestionAnswerer(ModelContext context, BlipForQuestionAnswering model)
    {
        this.context = context;
        this.model = model;
        Defaults = GenerationOptions.FromPretrained(context.Folder);
    }

    /// <summary>Opens a model folder or a Hub id.</summary>
    public static async Task<BlipQuestionAnswerer> OpenAsync(string modelIdOrPath, BlipLoadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= BlipLoadOptions.Default;
        var context = await ModelContext.OpenAsync(modelIdOrPath, options, cancellationToken).ConfigureAwait(false);
        try
        {
            return new BlipQuestionAnswerer(context, BlipForQuestionAnswering.FromPretrained(context.Folder, context.Device, context.DType));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>Synchronous <see cref="OpenAsync"/>.</summary>
    public static BlipQuestionAnswerer Open(string modelIdOrPath, BlipLoadOptions? options = null) =>
        OpenAsync(modelIdOrPath, options).GetAwaiter().GetResult();

    /// <summary>The checkpoint's generation settings.</summary>
    public GenerationOptions Defaults { get; }

    /// <summary>Answers <paramref name="question"/> about the image at <paramref name="imagePath"/>.</summary>
    public CaptionResult Answer(string imagePath, string question, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(question);
        options ??= Defaults;
        options.Validate();
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            using var scope = NewDisposeScope();
            using var inference = inference_mode();
            var pixels = context.Pixels([imagePath]);
            var (ids, mask) = context.Tokens([question]);
            using var result = model.Generate(pixels, ids, mask, options);
            var tokens = result.Tokens[0];
            return new CaptionResult(imagePath, context.Tokenizer.Decode(tokens), tokens);
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
