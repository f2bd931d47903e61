// Captions a held-out set greedily and scores it.
using Blip.Engine.Models;
using Blip.Engine.Processing;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>End-of-epoch evaluation of a captioning model.</summary>
public static class CaptionEvaluation
{
    /// <summary>Greedy captions (max 20 ids) of each distinct image of <paramref name="examples"/>, scored against all
    /// of that image's captions: <c>exact_match</c>, <c>bleu4</c>, <c>cider</c>.</summary>
    public static IReadOnlyDictionary<string, double> Run(BlipForConditionalGeneration model, BlipImageProcessor processor,
        BlipTokenizer tokenizer, IReadOnlyList<CaptionExample> examples, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(examples);
        var images = examples.GroupBy(e => e.ImagePath).Select(g => (Path: g.Key, Refs: (IReadOnlyList<string>)g.Select(e => e.Caption).ToList())).ToList();
        model.eval();
        var candidates = new List<string>();
        foreach (var chunk in images.Chunk(batchSize))
        {
            using var pixels = processor.Preprocess(chunk.Select(c => c.Path));
            candidates.AddRange(GreedyCaptioner.Generate(model, pixels).Select(ids => tokenizer.Decode(ids)));
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
