using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>The CUDA path: the same tiny checkpoint on the GPU gives transformers' logits and ids. Category Gpu: needs
/// an NVIDIA GPU and a build with <c>-p:TorchBackend=cuda-linux</c>; excluded from CI (see .ci/run).</summary>
[Category("Gpu")]
public class GpuTests
{
    [Test]
    public void Captioning_on_cuda_matches_transformers()
    {
        if (!cuda.is_available()) Assert.Fail("no CUDA device: build with -p:TorchBackend=cuda-linux on a machine with an NVIDIA GPU");
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        var device = CUDA;
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), device);
        var logits = model.Forward(fixtures.Get("pixel_values").to(device), fixtures.Get("captioning.decoder_input_ids").to(device),
            fixtures.Get("captioning.attention_mask").to(device));
        TensorAssert.AllClose(fixtures.Get("captioning.logits"), logits.cpu(), 1e-4, what: "captioning logits on CUDA");
        // the fixture's max_length 20, not the engine's default of 20 new tokens (21 ids with bos)
        using var result = model.Generate(fixtures.Get("pixel_values").to(device), options: new GenerationOptions { MaxLength = 20 });
        TensorAssert.Equal(fixtures.Get("captioning.generate.greedy"), result.Sequences.cpu(), "greedy ids on CUDA");
    }

    [Test]
    public void Seeded_sampling_on_cuda_runs_and_repeats()
    {
        // The sampler is made on the logits' device: a CPU generator is refused by multinomial for CUDA probabilities.
        if (!cuda.is_available()) Assert.Fail("no CUDA device: build with -p:TorchBackend=cuda-linux on a machine with an NVIDIA GPU");
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), CUDA);
        var options = new GenerationOptions { DoSample = true, Seed = 7, TopK = 20, MaxNewTokens = 10 };
        using var first = model.Generate(fixtures.Get("pixel_values").to(CUDA), options: options);
        using var second = model.Generate(fixtures.Get("pixel_values").to(CUDA), options: options);
        TensorAssert.Equal(first.Sequences.cpu(), second.Sequences.cpu(), "seeded samples on CUDA, run twice");
    }
}
