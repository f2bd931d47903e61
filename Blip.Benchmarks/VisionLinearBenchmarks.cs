// The four linears of one ViT-L/16 encoder layer at 384 px (577 tokens per image: qkv 1024 → 3072, projection
// 1024 → 1024, fc1 1024 → 4096, fc2 4096 → 1024; 14.5 GFLOP per image), float32: libtorch's linear (MKL's sgemm)
// against OneDnnLinear (oneDNN's 1×1 convolution, forced on), for one image and a batch of 8. This is what
// OneDnnLinear.PreferredFor's per-CPU choice was measured on.
// Run: dotnet run -c Release --project Blip.Benchmarks -- --filter '*VisionLinear*'
using BenchmarkDotNet.Attributes;
using Blip.Engine.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Benchmarks;

/// <summary>One vision layer's linears, libtorch or oneDNN, 1 or 8 images.</summary>
[Config(typeof(InProcessJob))]
public class VisionLinearBenchmarks
{
    private (Tensor Input, Tensor Weight, Tensor Bias)[] calls = [];
    private SkinnyLinearPolicy saved;

    /// <summary>Images of 577 tokens.</summary>
    [Params(1, 8)]
    public int Images { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (long Out, long In)[] shapes = [(3072, 1024), (1024, 1024), (4096, 1024), (1024, 4096)];
        calls = shapes.Select(s => (randn(Images, 577, s.In), randn(s.Out, s.In), randn(s.Out))).ToArray();
        saved = OneDnnLinear.Policy;
        OneDnnLinear.Policy = SkinnyLinearPolicy.Always;
    }

    [Benchmark(Baseline = true)]
    public void Libtorch()
    {
        using var inference = inference_mode();
        foreach (var (input, weight, bias) in calls) nn.functional.linear(input, weight, bias).Dispose();
    }

    [Benchmark]
    public void OneDnn()
    {
        using var inference = inference_mode();
        foreach (var (input, weight, bias) in calls) OneDnnLinear.Forward(input, weight, bias).Dispose();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        OneDnnLinear.Policy = saved;
        foreach (var (input, weight, bias) in calls)
        {
            input.Dispose();
            weight.Dispose();
            bias.Dispose();
        }
    }
}
