// The VQA front door: an image and a question in, an answer out, as transformers' BlipForQuestionAnswering.generate().
using Blip.Engine.Generation;
using Blip.Engine.Models;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>Answers questions about images with a <c>blip-vqa-*</c> checkpoint.</summary>
/// <remarks>Thread-safe: calls are serialised on one lock.</remarks>
public sealed class BlipQuestionAnswerer : BlipPipeline<BlipForQuestionAnswering>
{
    private BlipQuestionAnswerer(ModelContext context, BlipForQuestionAnswering model) : base(context, model) =>
        Defaults = GenerationOptions.FromPretrained(context.Folder);

    /// <summary>Opens a model folder or a Hub id.</summary>
    public static Task<BlipQuestionAnswerer> OpenAsync(string modelIdOrPath, BlipLoadOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(modelIdOrPath, options, (f, d, t) => BlipForQuestionAnswering.FromPretrained(f, d, t, memoryMap: true), (c, m) => new BlipQuestionAnswerer(c, m), cancellationToken);

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
        return Locked(() =>
        {
            var pixels = Context.Pixels([imagePath]);
            var (ids, mask) = Context.Tokens([question]);
            using var result = Model.Generate(pixels, ids, mask, options);
            var tokens = result.Tokens[0];
            return new CaptionResult(imagePath, Context.Tokenizer.Decode(tokens), tokens);
        });
    }
}
