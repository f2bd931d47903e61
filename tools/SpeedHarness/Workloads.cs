// The workloads, one for one with compare_speed_ref.py (keep them in step): captioning and retrieval.
using System.Diagnostics;
using System.Text.Json;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Modules.Text;
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>Loads a model and times each workload the options ask for.</summary>
internal sealed class Workloads(HarnessOptions options, Device device)
{
    private void Sync()
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }

    // The LM head's decoder weight and bias are the word embeddings and cls.predictions.bias: counted once, as python does.
    private static long WeightBytes(TorchSharp.torch.nn.Module model) =>
        model.named_parameters().Where(p => !p.name.Contains("predictions.decoder.", StringComparison.Ordinal))
            .Sum(p => p.parameter.numel() * p.parameter.element_size());

    /// <summary>Load, preprocess, vision at batch 1 and 8, one cached decoder step, greedy, beam 3, greedy batch 8.</summary>
    public (double Load, long RssLoaded, long WeightBytes) RunCaptioning()
    {
        long start = Stopwatch.GetTimestamp();
        using var model = BlipForConditionalGeneration.FromPretrained(options.Model, device, options.DType, memoryMap: true);
        double load = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long rss = Emit.PeakRssBytes();
        using var inference = inference_mode();
        string image = Path.Combine(options.Model, "image.png");
        var processor = new BlipImageProcessor();
        using var pv1 = processor.Preprocess([image]).to(options.DType, device);  // before timing, as the python side
        // Milliseconds each, and the first calls of a .NET process still run through JIT tiers: 5× the samples (both
        // sides), so one slow early call does not decide a median of two.
        if (options.Wants("preprocess")) Emit.Timed("preprocess", 5 * options.Repeat, () => processor.Preprocess([image]).Dispose(), Sync);
        using var pv8 = pv1.repeat(8, 1, 1, 1);
        double Limit() => Limits.MatmulGflops(device);
        if (options.Wants("vision_b1")) Emit.Timed("vision_b1", options.Repeat, () => model.VisionModel.forward(pv1).Dispose(), Sync, limit: Limit);
        if (options.Wants("vision_b8")) Emit.Timed("vision_b8", 1, () => model.VisionModel.forward(pv8).Dispose(), Sync, 8, Limit);
        if (options.Wants("decoder_step")) DecoderStep(model, pv1);
        var greedy = new GenerationOptions { MaxLength = 20, MinLength = 20 };
        // Greedy and beam 3 also carry a paired matmul: their floor is mostly the vision encoder at that rate.
        if (options.Wants("greedy20")) Emit.Timed("greedy20", options.Repeat, () => model.Generate(pv1, options: greedy).Dispose(), Sync, limit: Limit);
        if (options.Wants("beam3")) Emit.Timed("beam3", options.Repeat, () => model.Generate(pv1, options: greedy with { NumBeams = 3 }).Dispose(), Sync, limit: Limit);
        if (options.Wants("greedy20_b8")) Emit.Timed("greedy20_b8", 1, () => model.Generate(pv8, options: greedy).Dispose(), Sync, 8);
        return (load, rss, WeightBytes(model));
    }

    private void DecoderStep(BlipForConditionalGeneration model, Tensor pv1)
    {
        using var scope = NewDisposeScope();
        using var vision = model.VisionModel.forward(pv1);
        using var cache = new TextDecoderCache(model.TextDecoder.Config.NumHiddenLayers);
        var ids = tensor(new long[] { 30522, 1037, 3861, 1997, 1037 }, device: device).view(1, -1);
        model.TextDecoder.Forward(ids, ones(1, 5, dtype: ScalarType.Int64, device: device), vision.LastHiddenState, null, cache, lastOnly: true);
        var next = tensor(new long[] { 2158 }, device: device).view(1, 1);
        for (int r = 0; r <= options.Repeat; r++)  // the first step of a fresh cache is a warm-up
        {
            using var step = NewDisposeScope();
            Sync();
            long start = Stopwatch.GetTimestamp();
            var mask = ones(1, cache.Length + 1, dtype: ScalarType.Int64, device: device);
            model.TextDecoder.Forward(next, mask, null, null, cache, lastOnly: true).select(1, -1).argmax(-1).item<long>();
            Sync();
            Emit.Sample("decoder_step", Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>Load, ITM of one pair (image encoded too), ITC of 1,000 texts against a cached image, rank 1,000.</summary>
    public (double Load, long RssLoaded, long WeightBytes) RunRetrieval()
    {
        long start = Stopwatch.GetTimestamp();
        using var model = BlipForImageTextRetrieval.FromPretrained(options.Model, device, options.DType, memoryMap: true);
        double load = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long rss = Emit.PeakRssBytes();
        using var inference = inference_mode();
        using var tokenizer = BlipTokenizer.Load(options.Model);
        var texts = JsonSerializer.Deserialize<List<string>>(File.ReadAllText(options.Texts ?? throw new ArgumentException("--texts FILE is required for --family itm")))!;
        var processor = new BlipImageProcessor();
        using var pv = processor.Preprocess([Path.Combine(options.Model, "image.png")]).to(options.DType, device);
        var (pairIds, pairMask) = tokenizer.EncodeBatch([texts[0]]).ToTensors();
        var (ids, mask) = tokenizer.EncodeBatch(texts).ToTensors();
        (pairIds, pairMask, ids, mask) = (pairIds.to(device), pairMask.to(device), ids.to(device), mask.to(device));
        using var image = model.VisionModel.forward(pv);
        if (options.Wants("itm_pair")) Emit.Timed("itm_pair", options.Repeat, () =>
        {
            using var scope = NewDisposeScope();
            using var v = model.VisionModel.forward(pv);
            model.ItmLogits(v.LastHiddenState, pairIds, pairMask);
        }, Sync);
        if (options.Wants("itc_1000")) Emit.Timed("itc_1000", options.Repeat, () => Itc(model, image.LastHiddenState, ids, mask).Dispose(), Sync);
        if (options.Wants("rank_1000")) Emit.Timed("rank_1000", options.Repeat, () =>
        {
            using var scope = NewDisposeScope();
            using var v = model.VisionModel.forward(pv);
            var top = Itc(model, v.LastHiddenState, ids, mask)[0].topk(16).indexes;
            model.ItmLogits(v.LastHiddenState, ids[top], mask[top]).softmax(-1)[.., 1].cpu();
        }, Sync);
        return (load, rss, WeightBytes(model));
    }

    /// <summary>ITC cosines [1,N] of one cached image against N texts, --itc-batch (250) texts per text-encoder call (the
    /// library's many-text call: shortest first, each batch cut to its own longest text).</summary>
    private Tensor Itc(BlipForImageTextRetrieval model, Tensor imageEmbeds, Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var texts = model.TextFeatures(ids, mask, options.ItcBatch);
        return model.ImageFeatures(imageEmbeds).matmul(texts.t()).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }
}
