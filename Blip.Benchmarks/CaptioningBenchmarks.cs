// Full-size captioning (blip-image-captioning-large, random weights): preprocessing, one cached decoder step,
// greedy and beam-3 captions of 20 tokens, greedy over a batch of 8, and the checkpoint load.
// Run: dotnet run -c Release --project Blip.Benchmarks -- --filter '*Captioning*'
using BenchmarkDotNet.Attributes;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Modules.Text;
using Blip.Engine.Modules.Vision;
using Blip.Engine.Processing;
using static TorchSharp.torch;

namespace Blip.Benchmarks;

/// <summary>The captioning workloads of tools/reference/compare_speed, one BenchmarkDotNet method each.</summary>
[Config(typeof(InProcessJob))]
public class CaptioningBenchmarks
{
    private static readonly GenerationOptions Twenty = new() { MaxLength = 20, MinLength = 20 };
    private readonly BlipImageProcessor processor = new();
    private BlipForConditionalGeneration model = null!;
    private Tensor pixels = null!, pixels8 = null!;
    private VisionOutput image = null!;
    private TextDecoderCache cache = null!;

    [GlobalSetup]
    public void Setup()
    {
        model = BlipForConditionalGeneration.FromPretrained(FullSize.Captioning, memoryMap: true);
        pixels = processor.Preprocess([Path.Combine(FullSize.Captioning, "image.png")]);
        pixels8 = pixels.repeat(8, 1, 1, 1);
        using var inference = inference_mode();
        image = model.VisionModel.forward(pixels);
        cache = new TextDecoderCache(model.TextDecoder.Config.NumHiddenLayers);
        using var ids = tensor(new long[] { 30522, 1037, 3861, 1997, 1037 }).view(1, -1);
        using var mask = ones(1, 5, dtype: ScalarType.Int64);
        model.TextDecoder.Forward(ids, mask, image.LastHiddenState, null, cache, lastOnly: true).Dispose();
    }

    /// <summary>Decode, resize, rescale, normalise one PNG.</summary>
    [Benchmark]
    public void Preprocess() => processor.Preprocess([Path.Combine(FullSize.Captioning, "image.png")]).Dispose();

    /// <summary>One decoder step with the K/V cache (self-attention over the cache, cross-attention to the image).</summary>
    [Benchmark]
    public long DecoderStep()
    {
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        var next = tensor(new long[] { 2158 }).view(1, 1);
        var mask = ones(1, cache.Length + 1, dtype: ScalarType.Int64);
        return model.TextDecoder.Forward(next, mask, null, null, cache, lastOnly: true).select(1, -1).argmax(-1).item<long>();
    }

    /// <summary>Greedy caption of 20 tokens of one image, vision included.</summary>
    [Benchmark]
    public void Greedy20() => model.Generate(pixels, options: Twenty).Dispose();

    /// <summary>Beam-3 caption of 20 tokens of one image.</summary>
    [Benchmark]
    public void Beam3() => model.Generate(pixels, options: Twenty with { NumBeams = 3 }).Dispose();

    /// <summary>Greedy captions of 8 images in one batch.</summary>
    [Benchmark]
    public void Greedy20Batch8() => model.Generate(pixels8, options: Twenty).Dispose();

    /// <summary>Loading the 1.78 GB checkpoint (warm page cache).</summary>
    [Benchmark]
    public void Load() => BlipForConditionalGeneration.FromPretrained(FullSize.Captioning, memoryMap: true).Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        cache.Dispose();
        image.Dispose();
        pixels8.Dispose();
        pixels.Dispose();
        model.Dispose();
    }
}
