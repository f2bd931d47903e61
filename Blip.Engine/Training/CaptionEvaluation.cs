// Captions a held-out set with generate() (greedy by default, after the training prompt) and scores it.
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>End-of-epoch evaluation of a captioning model.</summary>
public static class CaptionEvaluation
{
    /// <summary>How the evaluation captions by default: greedy, at most 20 ids (bos and prompt included).</summary>
    public static GenerationOptions DefaultGeneration { get; } = GenerationOptions.Default with { MaxLength = 20 };

    /// <summary>Captions each distinct image of <paramref name="examples"/> with Blip.Engine's <c>generate()</c> and
    /// scores them against all of that image's captions: <c>exact_match</c>, <c>bleu4</c>, <c>cider</c>.</summary>
    /// <param name="model">The captioning model.</param>
    /// <param name="processor">Preprocesses the images.</param>
    /// <param name="tokenizer">Tokenizes the prompt and decodes the captions.</param>
    /// <param name="examples">Image and caption pairs; an image may have several captions.</param>
    /// <param name="batchSize">Images per generate() call.</param>
    /// <param name="prompt">Text the captions start with, as the model was trained (BLIP's recipe trains and evaluates
    /// after "a picture of "); it is not part of the scored caption, as BLIP's <c>caption[len(prompt):]</c>. Empty: unconditional.</param>
    /// <param name="generation">Search options; null: <see cref="DefaultGeneration"/>.</param>
    /// <exception cref="ArgumentException"><paramref name="examples"/> is empty.</exception>
    public static IReadOnlyDictionary<string, double> Run(BlipForConditionalGeneration model, BlipImageProcessor processor,
        BlipTokenizer tokenizer, IReadOnlyList<CaptionExample> examples, int batchSize, string prompt = "", GenerationOptions? generation = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (examples.Count == 0) throw new ArgumentException("no examples to evaluate (scores of nothing are undefined)", nameof(examples));
        var images = examples.GroupBy(e => e.ImagePath).Select(g => (Path: g.Key, Refs: (IReadOnlyList<string>)g.Select(e => e.Caption).ToList())).ToList();
        // [CLS] prompt [SEP]: generate() puts bos for [CLS] and drops [SEP], so a caption's first new id follows bos + prompt.
        long[]? promptIds = prompt.Length == 0 ? null : tokenizer.Encode(prompt);
        int skip = promptIds is null ? 0 : promptIds.Length - 1;
        model.eval();
        var candidates = new List<string>();
        foreach (var chunk in images.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            var pixels = processor.Preprocess(chunk.Select(c => c.Path));
            var ids = promptIds is null ? null : tensor(promptIds).unsqueeze(0).expand(chunk.Length, -1).contiguous(); // [G,T]
            using var result = model.Generate(pixels, ids, null, generation ?? DefaultGeneration);
            candidates.AddRange(result.Tokens.Select(t => tokenizer.Decode(t.Skip(skip).ToArray())));
        }
        var refs = images.Select(i => i.Refs).ToList();
        return new Dictionary<string, double>
        {
            ["exact_match"] = CaptionMetrics.ExactMatch(candidates, refs),
            ["bleu4"] = CaptionMetrics.Bleu4(candidates, refs),
            ["cider"] = CaptionMetrics.CiderD(candidates, refs),
        };
    }
}
