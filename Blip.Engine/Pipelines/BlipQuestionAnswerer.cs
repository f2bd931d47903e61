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
    /// <exception cref="ArgumentException"><see cref="GenerationOptions.NumReturnSequences"/> is above 1: one answer
    /// cannot hold them; <see cref="Answers"/> returns them all.</exception>
    public CaptionResult Answer(string imagePath, string question, GenerationOptions? options = null)
    {
        if ((options ?? Defaults).NumReturnSequences > 1)
            throw GenerationOptions.Invalid(nameof(GenerationOptions.NumReturnSequences),
                $"is {(options ?? Defaults).NumReturnSequences}: Answer returns one answer; call Answers for all of them");
        return Answers(imagePath, question, options)[0];
    }

    /// <summary>Every answer generate() returns for <paramref name="question"/>: <see cref="GenerationOptions.NumReturnSequences"/>
    /// of them, best first for beam search, as transformers orders them.</summary>
    public IReadOnlyList<CaptionResult> Answers(string imagePath, string question, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(question);
        options ??= Defaults;
        options.Validate();
        return Locked<IReadOnlyList<CaptionResult>>(() =>
        {
            var pixels = Context.Pixels([imagePath]);
            var (ids, mask) = Context.Tokens([question]);
            using var result = Model.Generate(pixels, ids, mask, options);
            return result.Tokens.Select(tokens => new CaptionResult(imagePath, Context.Tokenizer.Decode(tokens), tokens)).ToList();
        });
    }
}
