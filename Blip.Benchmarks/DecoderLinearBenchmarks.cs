// All linears of one decoding step of blip-image-captioning-large's text decoder (12 layers × 8, the prediction
// transform and the LM head: 0.49 GB in fp32), each with its own random weight so that every call reads from DRAM as a
// real step does: the few-row kernel (SkinnyLinear, forced on) against libtorch's linear, at the row counts of greedy,
// beam-3 and batch-8 decoding. This is what SkinnyLinear.PreferredFor's per-CPU choice was measured on.
// Run: dotnet run -c Release --project Blip.Benchmarks -- --filter '*DecoderLinear*'
using BenchmarkDotNet.Attributes;
using Blip.Engine.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Benchmarks;

/// <summary>One decoding step's linears, kernel or libtorch, fp32 or bf16, 1/3/8 rows.</summary>
[Config(typeof(InProcessJob))]
public class DecoderLinearBenchmarks
{
    private Tensor[] weights = [];
    private Tensor[] biases = [];
    private Dictionary<long, Tensor> inputs = [];
    private SkinnyLinearPolicy saved;

    /// <summary>Weights and activations dtype.</summary>
    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    /// <summary>Input rows: 1 greedy, 3 beams, 8 images.</summary>
    [Params(1, 3, 8)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var shapes = new List<(long Out, long In)>();
        for (int layer = 0; layer < 12; layer++)
        {
            for (int j = 0; j < 6; j++) shapes.Add((768, 768));   // self and cross query/key/value/output (cross K/V are cached: 4 + 2)
            shapes.Add((3072, 768));                               // intermediate
            shapes.Add((768, 3072));                               // output
        }
        shapes.Add((768, 768));                                    // prediction transform
        shapes.Add((30524, 768));                                  // LM head
        weights = shapes.Select(s => randn(s.Out, s.In).to(DType)).ToArray();
        biases = shapes.Select(s => randn(s.Out).to(DType)).ToArray();
        inputs = new() { [768] = randn(1, Rows, 768).to(DType), [3072] = randn(1, Rows, 3072).to(DType) };
        saved = SkinnyLinear.Policy;
        SkinnyLinear.Policy = SkinnyLinearPolicy.Always;
    }

    [Benchmark(Baseline = true)]
    public void Libtorch()
    {
        using var inference = inference_mode();
        for (int k = 0; k < weights.Length; k++) nn.functional.linear(inputs[weights[k].shape[1]], weights[k], biases[k]).Dispose();
    }

    [Benchmark]
    public void Kernel()
    {
        using var inference = inference_mode();
        for (int k = 0; k < weights.Length; k++) SkinnyLinear.Forward(inputs[weights[k].shape[1]], weights[k], biases[k]).Dispose();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        SkinnyLinear.Policy = saved;
        foreach (var t in weights.Concat(biases).Concat(inputs.Values)) t.Dispose();
    }
}
