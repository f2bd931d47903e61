using Blip.Engine.Models;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Generation;
using Blip.Engine.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>Weights packed once for oneDNN (memory-mapped float32 checkpoints, and bfloat16 converted at load): the
/// packed model against transformers' outputs, the packed copy dropped when a weight is written, and the file's pages
/// still readable once released.</summary>
[NonParallelizable]  // sets OneDnnLinear.Policy, WidenPolicy and OneDnnPackedLinear.Enabled
public class OneDnnPackedLinearTests
{
    private const string Fc1 = "vision_model.encoder.layers.0.mlp.fc1.weight";
    private const string Fc1Bias = "vision_model.encoder.layers.0.mlp.fc1.bias";
    private (SkinnyLinearPolicy Policy, SkinnyLinearPolicy Widen, bool Enabled) saved;

    [SetUp]
    public void Save()
    {
        saved = (OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnPackedLinear.Enabled);
        // Forced on, so the packed route is checked on every CPU, whichever way Auto decides here; bfloat16 linears
        // are not widened (Auto widens those of many rows, before packing, where bfloat16 products are slow).
        (OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnPackedLinear.Enabled) = (SkinnyLinearPolicy.Always, SkinnyLinearPolicy.Never, true);
    }

    [TearDown]
    public void Restore() => (OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnPackedLinear.Enabled) = saved;

    private static TorchSharp.Modules.Parameter Parameter(nn.Module model, string name) =>
        model.named_parameters().First(p => p.name == name).parameter;

    [Test]
    public void A_memory_mapped_model_packs_its_vision_weights_once_and_matches_transformers()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true);
        using var inference = inference_mode();
        var pixels = fixtures.Get("pixel_values");
        var fc1 = Parameter(model, Fc1);
        Assert.That(OneDnnPackedLinear.IsPacked(fc1), Is.False, "nothing is packed before the first forward");
        for (int pass = 1; pass <= OneDnnPackedLinear.PackOnUse + 1; pass++)
        {
            using var output = model.VisionModel.forward(pixels);
            TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), output.LastHiddenState, 1e-4,
                what: $"last_hidden_state, pass {pass}");
            Assert.That(OneDnnPackedLinear.IsPacked(fc1), Is.EqualTo(pass >= OneDnnPackedLinear.PackOnUse),
                $"fc1's weight is packed from use {OneDnnPackedLinear.PackOnUse} on (pass {pass})");
        }
    }

    // Where the CPU lacks AVX512-BF16, bfloat16 linears stay libtorch's and nothing is packed: asserted as such there.
    [Test]
    public void A_bfloat16_model_converted_at_load_packs_its_vision_weights_and_stays_as_close_to_float32_as_transformers()
    {
        using var scope = NewDisposeScope();
        using var tiny = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), dtype: ScalarType.BFloat16);
        using var inference = inference_mode();
        var fc1 = Parameter(model, Fc1);
        Assert.That(fc1.dtype, Is.EqualTo(ScalarType.BFloat16));
        var pixels = tiny.Get("pixel_values");
        for (int pass = 1; pass <= OneDnnPackedLinear.PackOnUse + 1; pass++)
        {
            using var logits = model.Forward(pixels, tiny.Get("captioning.decoder_input_ids"), tiny.Get("captioning.attention_mask"));
            BFloat16ParityTests.AssertAsCloseAsTransformers("captioning.logits", logits, tiny, $"pass {pass}");
            Assert.That(OneDnnPackedLinear.IsPacked(fc1), Is.EqualTo(CpuFeatures.HasAvx512BFloat16 && pass >= OneDnnPackedLinear.PackOnUse),
                $"fc1's bfloat16 weight is packed from use {OneDnnPackedLinear.PackOnUse} on where the CPU has AVX512-BF16 (pass {pass})");
        }
    }

    // A float32 weight of a memory-mapped model, and a bfloat16 one converted at load (packed where the CPU has
    // AVX512-BF16): before the write, the packed linear against libtorch's within float rounding (bfloat16: a few units
    // in the last place of outputs up to ~10); after it, libtorch's own route, so equal.
    [TestCase(ScalarType.Float32, 1e-5)]
    [TestCase(ScalarType.BFloat16, 0.25)]
    public void A_weight_written_in_place_loses_its_packed_copy_and_the_linear_sees_the_new_values(ScalarType dtype, double packedTolerance)
    {
        bool packs = dtype == ScalarType.Float32 || CpuFeatures.HasAvx512BFloat16;
        using var scope = NewDisposeScope();
        using var model = dtype == ScalarType.Float32
            ? BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true)
            : BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), dtype: dtype);
        var weight = Parameter(model, Fc1);
        var bias = Parameter(model, Fc1Bias);
        var input = randn(1, 40, weight.shape[1], generator: new torch.Generator(3)).to(dtype);
        using (inference_mode())
        {
            for (int use = 1; use <= OneDnnPackedLinear.PackOnUse; use++)
                TensorAssert.AllClose(nn.functional.linear(input, weight, bias), OneDnnLinear.Forward(input, weight, bias), packedTolerance, what: $"use {use}");
            Assert.That(OneDnnPackedLinear.IsPacked(weight), Is.EqualTo(packs), $"packed on use {OneDnnPackedLinear.PackOnUse} ({dtype})");
        }

        using (no_grad()) weight.mul_(2);   // an optimizer step or load_state_dict writes in place like this
        using (inference_mode())
        {
            // libtorch's route as OneDnnLinear takes it: a 3-D input folded to [R, I], so bfloat16 rounds once
            var expected = nn.functional.linear(input.view(-1, weight.shape[1]), weight, bias).view(input.shape[0], input.shape[1], -1);
            TensorAssert.AllClose(expected, OneDnnLinear.Forward(input, weight, bias), 1e-5, what: "after the in-place write");
            Assert.That(OneDnnPackedLinear.IsPacked(weight), Is.False, "the stale packed copy is dropped");
            TensorAssert.AllClose(expected, OneDnnLinear.Forward(input, weight, bias), 1e-5, what: "and stays dropped");
            Assert.That(OneDnnPackedLinear.IsPacked(weight), Is.False, "a written weight is not packed again");
        }
    }

    [Test]
    public void Released_file_pages_read_back_the_checkpoints_values()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var owned = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var mapped = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true);
        using var inference = inference_mode();
        for (int use = 0; use < OneDnnPackedLinear.PackOnUse; use++) mapped.VisionModel.forward(fixtures.Get("pixel_values")).Dispose();
        var weight = Parameter(mapped, Fc1);
        Assert.That(OneDnnPackedLinear.IsPacked(weight), Is.True, "packed, so its pages were released");
        TensorAssert.Equal(Parameter(owned, Fc1), weight, "the mapped weight after its pages were released");
    }

    [Test]
    public void Owned_weights_inference_tensors_and_the_switch_keep_the_convolution()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var owned = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using (inference_mode())
        {
            for (int use = 0; use < OneDnnPackedLinear.PackOnUse; use++) owned.VisionModel.forward(fixtures.Get("pixel_values")).Dispose();
        }
        Assert.That(OneDnnPackedLinear.IsPacked(Parameter(owned, Fc1)), Is.False,
            "weights the model owns are not packed: the packed copy would double their memory");
        using var inference = inference_mode();
        using (var loadedInInference = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true))
        {
            for (int use = 1; use < OneDnnPackedLinear.PackOnUse; use++) loadedInInference.VisionModel.forward(fixtures.Get("pixel_values")).Dispose();
            using var output = loadedInInference.VisionModel.forward(fixtures.Get("pixel_values"));
            Assert.That(OneDnnPackedLinear.IsPacked(Parameter(loadedInInference, Fc1)), Is.False,
                "weights loaded under inference mode count no writes: not packed");
            TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), output.LastHiddenState, 1e-4, what: "inference tensors");
        }

        OneDnnPackedLinear.Enabled = false;
        using var mapped = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true);
        for (int use = 1; use < OneDnnPackedLinear.PackOnUse; use++) mapped.VisionModel.forward(fixtures.Get("pixel_values")).Dispose();
        using var unpacked = mapped.VisionModel.forward(fixtures.Get("pixel_values"));
        Assert.That(OneDnnPackedLinear.IsPacked(Parameter(mapped, Fc1)), Is.False, "BLIP_ONEDNN_PACK=0 (Enabled false)");
        TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), unpacked.LastHiddenState, 1e-4, what: "unpacked");
    }
}
