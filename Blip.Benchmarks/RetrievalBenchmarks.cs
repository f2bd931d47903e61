// Full-size retrieval (blip-itm-large-flickr, random weights): ITM of one pair, ITC of 1,000 texts against one
// cached image embedding, and ranking 1,000 texts (ITC, then ITM on the best 16).
// Run: dotnet run -c Release --project Blip.Benchmarks -- --filter '*Retrieval*'
using BenchmarkDotNet.Attributes;
using Blip.Engine.Models;
using Blip.Engine.Modules.Vision;
using Blip.Engine.Processing;
using static TorchSharp.torch;

namespace Blip.Benchmarks;

/// <summary>The retrieval workloads of tools/reference/compare_speed.</summary>
[Config(typeof(InProcessJob))]
public class RetrievalBenchmarks
{
    private BlipForImageTextRetrieval model = null!;
    private Tensor pixels = null!, pairIds = null!, pairMask = null!, ids = null!, mask = null!;
    private VisionOutput image = null!;

    [GlobalSetup]
    public void Setup()
    {
        model = BlipForImageTextRetrieval.FromPretrained(FullSize.Retrieval, memoryMap: true);
        pixels = new BlipImageProcessor().Preprocess([Path.Combine(FullSize.Retrieval, "image.png")]);
        using var tokenizer = BlipTokenizer.Load(FullSize.Retrieval);
        var texts = FullSize.Captions(1000);
        (pairIds, pairMask) = tokenizer.EncodeBatch([texts[0]]).ToTensors();
        (ids, mask) = tokenizer.EncodeBatch(texts).ToTensors();
        using var inference = inference_mode();
        image = model.VisionModel.forward(pixels);
    }

    /// <summary>ITM of one image-text pair, the image encoded too (what transformers' class does per pair).</summary>
    [Benchmark]
    public void ItmPair()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        using var vision = model.VisionModel.forward(pixels);
        model.ItmLogits(vision.LastHiddenState, pairIds, pairMask);
    }

    /// <summary>ITC cosines of 1,000 texts against the cached image embedding.</summary>
    [Benchmark]
    public void Itc1000()
    {
        using var inference = inference_mode();
        Itc(image.LastHiddenState).Dispose();
    }

    /// <summary>Ranking 1,000 texts: the image once, ITC over all, ITM on the best 16.</summary>
    [Benchmark]
    public void Rank1000()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        using var vision = model.VisionModel.forward(pixels);
        var top = Itc(vision.LastHiddenState)[0].topk(16).indexes;
        model.ItmLogits(vision.LastHiddenState, ids[top], mask[top]).softmax(-1)[.., 1].cpu();
    }

    private Tensor Itc(Tensor imageEmbeds)
    {
        using var scope = NewDisposeScope();
        var texts = model.TextFeatures(ids, mask, batchSize: 250);  // sorted by length, each batch cut to its longest
        return model.ImageFeatures(imageEmbeds).matmul(texts.t()).MoveToOuterDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        image.Dispose();
        foreach (var t in new[] { pixels, pairIds, pairMask, ids, mask }) t.Dispose();
        model.Dispose();
    }
}
