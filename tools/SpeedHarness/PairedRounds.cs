// Two workloads timed alternately in one process, the order swapped every round, so that both see the same moments
// of a shared machine; the report is the ratio per round. Two harness processes can catch the hosts of
// docs/BENCHMARKS.md in different phases (run N: a bf16 linear at 386 GFLOP/s in one process, 1,109 in the next).
// Engine only: the families that use this (--family dtype-pairs, batch-pairs, rowgroup-pairs) compare the engine with
// itself, and
// --family floor-rounds times a caption between two measurements of the machine's limits.
using System.Diagnostics;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Modules;
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>The <c>--family dtype-pairs</c>, <c>batch-pairs</c>, <c>rowgroup-pairs</c> and <c>floor-rounds</c>
/// workloads.</summary>
internal static class PairedRounds
{
    private static readonly GenerationOptions Greedy = new() { MaxLength = 20, MinLength = 20 };

    /// <summary>issue 4's "bf16 at least 2× faster than fp32": greedy20 by the checkpoint loaded in both dtypes.</summary>
    public static void DTypes(HarnessOptions options, Device device)
    {
        using var fp32 = BlipForConditionalGeneration.FromPretrained(options.Model, device, ScalarType.Float32, memoryMap: true);
        using var bf16 = BlipForConditionalGeneration.FromPretrained(options.Model, device, ScalarType.BFloat16, memoryMap: true);
        using var inference = inference_mode();
        using var pixels = Pixels(options, device, 1);
        using var pixels16 = pixels.to(ScalarType.BFloat16);
        Run("greedy20_fp32_paired", () => Caption(fp32, pixels, device), "greedy20_bf16_paired", () => Caption(bf16, pixels16, device),
            "bf16_speedup", options.Repeat, OneDnnPackedLinear.PackOnUse);
    }

    /// <summary>issue 4's "8 images at least 1.2× faster per image than one at a time": greedy20 of 8 images one by
    /// one against one batch of 8 (per image).</summary>
    public static void Batches(HarnessOptions options, Device device)
    {
        using var model = BlipForConditionalGeneration.FromPretrained(options.Model, device, options.DType, memoryMap: true);
        using var inference = inference_mode();
        using var pixels = Pixels(options, device, 1);
        using var one = pixels.to(options.DType);
        using var eight = one.repeat(8, 1, 1, 1);
        // One warm-up of the 8 single captions already uses each weight PackOnUse times or more; where a batch's steps take
        // packed copies (SkinnyLinear.PackedFirstFor), its decoder weights pack on their StepPackOnUse-th step: batches
        // until then, so the rounds measure the packed steady state.
        int steps = Greedy.MaxLength!.Value - 1;
        if (SkinnyLinear.PackedFirstFor(options.DType, 8))
            for (int uses = 0; uses < SkinnyLinear.StepPackOnUse; uses += steps) Caption(model, eight, device);
        Run("greedy20_b1_paired", () => Enumerable.Range(0, 8).Sum(_ => Caption(model, one, device)) / 8, "greedy20_b8_paired",
            () => Caption(model, eight, device) / 8, "batch8_speedup", options.Repeat, 1);
    }

    /// <summary>Optimisation 42 before and after in one process: vision b1 and greedy20 with PackedRowGroups.Policy Never
    /// against Always (the policy restored after), on packed weights (warm-ups past PackOnUse). Its Auto applies on
    /// Zen 5 only; Always here measures any CPU whose linears run on packed weights.</summary>
    public static void RowGroups(HarnessOptions options, Device device)
    {
        using var model = BlipForConditionalGeneration.FromPretrained(options.Model, device, options.DType, memoryMap: true);
        using var inference = inference_mode();
        using var pixels = Pixels(options, device, 1);
        using var input = pixels.to(options.DType);
        var saved = PackedRowGroups.Policy;
        try
        {
            double With(SkinnyLinearPolicy policy, Func<double> work)
            {
                PackedRowGroups.Policy = policy;
                return work();
            }

            double Vision() => Seconds(() => model.VisionModel.forward(input).Dispose(), device);
            Run("vision_b1_ungrouped_paired", () => With(SkinnyLinearPolicy.Never, Vision), "vision_b1_grouped_paired",
                () => With(SkinnyLinearPolicy.Always, Vision), "rowgroups_vision_speedup", options.Repeat, OneDnnPackedLinear.PackOnUse);
            Run("greedy20_ungrouped_paired", () => With(SkinnyLinearPolicy.Never, () => Caption(model, input, device)), "greedy20_grouped_paired",
                () => With(SkinnyLinearPolicy.Always, () => Caption(model, input, device)), "rowgroups_greedy_speedup", options.Repeat, 1);
        }
        finally
        {
            PackedRowGroups.Policy = saved;
        }
    }

    /// <summary>issue 4's floors, judged round by round: the compute limit (fp32 matmul; bf16: Limits.BFloat16Gflops) and
    /// the read bandwidth are measured before and after each round of vision b1, greedy20 and beam3 (their order
    /// swapped every round), and each round's floor uses their means: vision + cross K/V at that rate, plus 19 steps
    /// × the decoder's weights at that bandwidth (compare_speed.py's formula, from the checkpoint's config).</summary>
    public static void Floors(HarnessOptions options, Device device)
    {
        if (device.type != DeviceType.CPU) throw new ArgumentException("--family floor-rounds measures read bandwidth on the CPU only");
        using var model = BlipForConditionalGeneration.FromPretrained(options.Model, device, options.DType, memoryMap: true);
        using var inference = inference_mode();
        using var pixels = Pixels(options, device, 1);
        using var one = pixels.to(options.DType);
        using var buffer = Limits.ReadBuffer();
        var (computeFlop, visionFlop, stepBytes) = FloorTerms(model.Config, one.element_size());
        int steps = Greedy.MaxLength!.Value - 1;
        var beam = Greedy with { NumBeams = 3 };
        Func<double> limit = options.DType == ScalarType.BFloat16 ? () => Limits.BFloat16Gflops(device) : () => Limits.MatmulGflops(device);
        double Vision() => Seconds(() => model.VisionModel.forward(one).Dispose(), device);

        // Warm-ups until every weight has been used PackOnUse times: the rounds measure the packed steady state.
        for (int use = 0; use < OneDnnPackedLinear.PackOnUse; use += 3)
        {
            Vision();
            Caption(model, one, device);
            Caption(model, one, device, beam);
        }
        var shares = new List<double>();
        var greedy = new List<double>();
        var beams = new List<double>();
        for (int round = 0; round < 2 * options.Repeat; round++)
        {
            double rate = limit(), bandwidth = Limits.ReadGbs(buffer);
            double tv = Vision(), tg, tb;
            if (round % 2 == 0)
                (tg, tb) = (Caption(model, one, device), Caption(model, one, device, beam));
            else
                (tb, tg) = (Caption(model, one, device, beam), Caption(model, one, device));
            rate = (rate + limit()) / 2;
            bandwidth = (bandwidth + Limits.ReadGbs(buffer)) / 2;
            double floor = (computeFlop / rate / 1e9) + (steps * stepBytes / bandwidth / 1e9);
            shares.Add(visionFlop / tv / 1e9 / rate);
            greedy.Add(tg / floor);
            beams.Add(tb / floor);
            Emit.Sample("vision_b1_round", tv, 1, rate);
            Emit.Sample("greedy20_round", tg, 1, rate);
            Emit.Sample("beam3_round", tb, 1, rate);
            Emit.Line(new() { ["kind"] = "round", ["limit_gflops"] = rate, ["read_gbs"] = bandwidth, ["floor_seconds"] = floor,
                ["vision_share"] = shares[^1], ["greedy20_floor_ratio"] = greedy[^1], ["beam3_floor_ratio"] = beams[^1] });
        }

        Emit.Fact("vision_share_paired_median", Median(shares));
        Emit.Fact("vision_share_rounds_at_least_0.85", shares.Count(x => x >= 0.85));
        Emit.Fact("greedy20_floor_ratio_paired_median", Median(greedy));
        Emit.Fact("greedy20_floor_rounds_within_1.2x", greedy.Count(x => x <= 1.2));
        Emit.Fact("beam3_floor_ratio_paired_median", Median(beams));
        Emit.Fact("beam3_floor_rounds_within_1.25x", beams.Count(x => x <= 1.25));
        Emit.Fact("rounds", shares.Count);
    }

    // compare_speed.py's VISION_FLOP + CROSS_KV_FLOP, VISION_FLOP, and STEP_WEIGHT_BYTES (in the model's element size):
    // the vision encoder's GEMM and attention FLOP plus the patch embedding, the image K/V projections of every decoder
    // layer, and the weights one decoding step reads (each layer's six H×H and two H×I matrices, the LM head, its
    // transform).
    private static (double Compute, double Vision, double StepBytes) FloorTerms(Blip.Engine.Config.BlipConfig config, long elementSize)
    {
        var v = config.VisionConfig;
        var t = config.TextConfig;
        double s = v.NumPositions, c = v.HiddenSize, i = v.IntermediateSize, p = v.PatchSize, h = t.HiddenSize;
        double vision = (v.NumHiddenLayers * ((2 * s * c * ((4 * c) + (2 * i))) + (4 * s * s * c))) + (2 * (s - 1) * 3 * p * p * c);
        double cross = t.NumHiddenLayers * 2.0 * 2 * s * t.EncoderHiddenSize * h;
        double step = elementSize * ((t.NumHiddenLayers * ((6 * h * h) + (2 * h * t.IntermediateSize))) + ((double)t.VocabSize * h) + (h * h));
        return (vision + cross, vision, step);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        int n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    private static Tensor Pixels(HarnessOptions options, Device device, int images) =>
        new BlipImageProcessor().Preprocess(Enumerable.Repeat(Path.Combine(options.Model, "image.png"), images).ToArray()).to(device);

    private static double Caption(BlipForConditionalGeneration model, Tensor pixels, Device device, GenerationOptions? options = null) =>
        Seconds(() => model.Generate(pixels, options: options ?? Greedy).Dispose(), device);

    private static double Seconds(Action action, Device device)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        if (device.type == DeviceType.CUDA) cuda.synchronize();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    // Warm-ups of each (first calls through JIT tiers and fresh pages; OneDnnPackedLinear packs a weight on its
    // PackOnUse-th use, so the rounds see the steady state a long-running process gets), then 2 × repeat rounds; emits
    // every sample and the median and minimum of the ratios first/second and how many rounds reach 2× and 1.2×.
    private static void Run(string first, Func<double> a, string second, Func<double> b, string ratio, int repeat, int warmups)
    {
        for (int i = 0; i < warmups; i++)
        {
            a();
            b();
        }
        var ratios = new List<double>();
        for (int round = 0; round < 2 * repeat; round++)
        {
            bool secondFirst = round % 2 == 1;
            double tb = secondFirst ? b() : 0, ta = a();
            if (!secondFirst) tb = b();
            Emit.Sample(first, ta);
            Emit.Sample(second, tb);
            ratios.Add(ta / tb);
        }
        Emit.Fact($"{ratio}_paired_median", Median(ratios));
        Emit.Fact($"{ratio}_paired_min", ratios.Min());
        Emit.Fact($"{ratio}_rounds_at_least_2x", ratios.Count(r => r >= 2.0));
        Emit.Fact($"{ratio}_rounds_at_least_1.2x", ratios.Count(r => r >= 1.2));
        Emit.Fact("rounds", ratios.Count);
    }
}
