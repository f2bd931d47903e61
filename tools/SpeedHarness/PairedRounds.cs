// Two workloads timed alternately in one process, the order swapped every round, so that both see the same moments
// of a shared machine; the report is the ratio per round. Two harness processes can catch the hosts of
// docs/BENCHMARKS.md in different phases (run N: a bf16 linear at 386 GFLOP/s in one process, 1,109 in the next).
// Engine only: the families that use this (--family dtype-pairs, batch-pairs) compare the engine with itself.
using System.Diagnostics;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>The <c>--family dtype-pairs</c> and <c>--family batch-pairs</c> workloads.</summary>
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
            "bf16_speedup", options.Repeat);
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
        Run("greedy20_b1_paired", () => Enumerable.Range(0, 8).Sum(_ => Caption(model, one, device)) / 8, "greedy20_b8_paired",
            () => Caption(model, eight, device) / 8, "batch8_speedup", options.Repeat);
    }

    private static Tensor Pixels(HarnessOptions options, Device device, int images) =>
        new BlipImageProcessor().Preprocess(Enumerable.Repeat(Path.Combine(options.Model, "image.png"), images).ToArray()).to(device);

    private static double Caption(BlipForConditionalGeneration model, Tensor pixels, Device device)
    {
        long start = Stopwatch.GetTimestamp();
        model.Generate(pixels, options: Greedy).Dispose();
        if (device.type == DeviceType.CUDA) cuda.synchronize();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    // One warm-up of each (first calls through JIT tiers and fresh pages), then 2 × repeat rounds; emits every sample
    // and the median and minimum of the ratios first/second and how many rounds reach 2× and 1.2×.
    private static void Run(string first, Func<double> a, string second, Func<double> b, string ratio, int repeat)
    {
        a();
        b();
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
        ratios.Sort();
        int n = ratios.Count;
        Emit.Fact($"{ratio}_paired_median", n % 2 == 1 ? ratios[n / 2] : (ratios[(n / 2) - 1] + ratios[n / 2]) / 2);
        Emit.Fact($"{ratio}_paired_min", ratios[0]);
        Emit.Fact($"{ratio}_rounds_at_least_2x", ratios.Count(r => r >= 2.0));
        Emit.Fact($"{ratio}_rounds_at_least_1.2x", ratios.Count(r => r >= 1.2));
        Emit.Fact("rounds", ratios.Count);
    }
}
