// The ViT-L/16 image encoder at 384 px (blip-image-captioning-large's vision half) with random weights:
// speed does not depend on values. Run: dotnet run -c Release --project Blip.Benchmarks -- --filter '*Vision*'
using BenchmarkDotNet.Attributes;
using Blip.Engine.Config;
using Blip.Engine.Modules.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Benchmarks;

/// <summary>Forward time of the full-size vision encoder, fp32 and bf16, at batch 1 and 8.</summary>
[Config(typeof(InProcessJob))]
public class VisionEncoderBenchmarks
{
    private BlipVisionModel model = null!;
    private Tensor pixels = null!;

    /// <summary>Images per forward.</summary>
    [Params(1, 8)]
    public int Batch { get; set; }

    /// <summary>Weights and activations dtype.</summary>
    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = new BlipVisionConfig { HiddenSize = 1024, NumHiddenLayers = 24, NumAttentionHeads = 16, IntermediateSize = 4096 };
        config.Validate("ViT-L/16 preset");
        model = new BlipVisionModel(config);
        model.to(DType).eval();
        pixels = randn(Batch, 3, 384, 384).to(DType);
    }

    [Benchmark]
    public void Forward()
    {
        using var inference = inference_mode();
        using var output = model.forward(pixels);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        pixels.Dispose();
        model.Dispose();
    }
}
