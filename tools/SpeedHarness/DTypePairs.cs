// bfloat16 against float32 in one process: greedy captions of the same image by the same checkpoint loaded in both
// dtypes, alternating, so that both see the same moment of a shared machine. Engine only (transformers' bf16 is not
// the question here): issue 4's "bf16 at least 2× faster than fp32" as a ratio per round, not as two processes'
// medians, which on the machines of docs/BENCHMARKS.md caught the host in different phases (a bf16 linear at 386
// GFLOP/s in one process and 1,109 in the next).
using System.Diagnostics;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>The <c>--family dtype-pairs</c> workload.</summary>
internal static class DTypePairs
{
    /// <summary>Runs <c>2 × repeat</c> rounds of one fp32 and one bf16 greedy caption (the order swapped every round);
    /// emits each sample and the median per-round ratio fp32/bf16.</summary>
    public static void Run(HarnessOptions options, Device device)
    {
        using var fp32 = BlipForConditionalGeneration.FromPretrained(options.Model, device, ScalarType.Float32, memoryMap: true);
        using var bf16 = BlipForConditionalGeneration.FromPretrained(options.Model, device, ScalarType.BFloat16, memoryMap: true);
        using var inference = inference_mode();
        using var pixels = new BlipImageProcessor().Preprocess([Path.Combine(options.Model, "image.png")]).to(device);
        using var pixels16 = pixels.to(ScalarType.BFloat16);
        var greedy = new GenerationOptions { MaxLength = 20, MinLength = 20 };
        double Caption(BlipForConditionalGeneration model, Tensor pv)
        {
            long start = Stopwatch.GetTimestamp();
            model.Generate(pv, options: greedy).Dispose();
            if (device.type == DeviceType.CUDA) cuda.synchronize();
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        Caption(fp32, pixels);  // warm-up: first calls of each path through JIT tiers and fresh pages
        Caption(bf16, pixels16);
        var ratios = new List<double>();
        for (int round = 0; round < 2 * options.Repeat; round++)
        {
            bool bf16First = round % 2 == 1;
            double b = bf16First ? Caption(bf16, pixels16) : 0, f = Caption(fp32, pixels);
            if (!bf16First) b = Caption(bf16, pixels16);
            Emit.Sample("greedy20_fp32_paired", f);
            Emit.Sample("greedy20_bf16_paired", b);
            ratios.Add(f / b);
        }
        ratios.Sort();
        Emit.Line(new Dictionary<string, object> { ["kind"] = "fact", ["name"] = "bf16_speedup_paired_median", ["value"] = ratios[ratios.Count / 2] });
        Emit.Line(new Dictionary<string, object> { ["kind"] = "fact", ["name"] = "bf16_speedup_paired_min", ["value"] = ratios[0] });
        Emit.Line(new Dictionary<string, object> { ["kind"] = "fact", ["name"] = "bf16_rounds_at_least_2x", ["value"] = ratios.Count(r => r >= 2.0) });
        Emit.Line(new Dictionary<string, object> { ["kind"] = "fact", ["name"] = "rounds", ["value"] = ratios.Count });
    }
}
