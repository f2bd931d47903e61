using Blip.Engine.Models;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>The vision encoder against transformers' BlipVisionModel outputs on the tiny captioning checkpoint, with
/// the linears as this CPU gets them (Auto) and all of them through oneDNN (Always, see OneDnnLinear).</summary>
[TestFixture("Auto")]
[TestFixture("Always")]
[NonParallelizable]  // sets the process-wide kernel policies
public class VisionParityTests(string policy) : KernelPolicyFixture(policy)
{
    private const double Atol = 1e-4;

    [Test]
    public void Embeddings_layer0_last_hidden_state_and_pooled_output_match_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        var embeddings = model.VisionModel.Embeddings.forward(pixels, false);
        TensorAssert.AllClose(fixtures.Get("captioning.vision.embeddings"), embeddings, Atol, what: "vision embeddings");
        var layer0 = model.VisionModel.Encoder.Layers[0].forward(fixtures.Get("captioning.vision.embeddings"));
        TensorAssert.AllClose(fixtures.Get("captioning.vision.layer0"), layer0, Atol, what: "vision layer 0");
        using var output = model.VisionModel.forward(pixels);
        TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), output.LastHiddenState, Atol, what: "vision last_hidden_state");
        TensorAssert.AllClose(fixtures.Get("captioning.vision.pooler_output"), output.PooledOutput, Atol, what: "vision pooler_output");
    }

    [TestCase(true)]
    [TestCase(false)]
    [NonParallelizable]  // sets SelfAttentionKernel's process-wide switches
    public void The_vision_encoder_matches_transformers_with_the_attention_kernel_and_with_sdpa(bool kernel)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        var (enabled, required) = (SelfAttentionKernel.Enabled, SelfAttentionKernel.RequireAcceleration);
        try
        {
            // Forced on even without AVX-512 (emulated), so the kernel is checked against transformers on every machine.
            (SelfAttentionKernel.Enabled, SelfAttentionKernel.RequireAcceleration) = (kernel, false);
            var mixed = zeros([2, 577, 3, 4, 8]);
            Assert.That(SelfAttentionKernel.Applies(mixed, 4, 8), Is.EqualTo(kernel && OpenMpTeam.IsAvailable),
                $"the tiny encoder's attention layout; libgomp: {OpenMpTeam.LibraryPath ?? "not found"}");
            using var output = model.VisionModel.forward(pixels);
            TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), output.LastHiddenState, Atol, what: $"last_hidden_state, kernel {kernel}");
            TensorAssert.AllClose(fixtures.Get("captioning.vision.pooler_output"), output.PooledOutput, Atol, what: $"pooler_output, kernel {kernel}");
        }
        finally
        {
            (SelfAttentionKernel.Enabled, SelfAttentionKernel.RequireAcceleration) = (enabled, required);
        }
    }

    [Test]
    public void Retrieval_and_vqa_vision_encoders_match_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        var pixels = fixtures.Get("pixel_values");
        using (var retrieval = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval")))
        using (var output = retrieval.VisionModel.forward(pixels))
            TensorAssert.AllClose(fixtures.Get("retrieval.vision.last_hidden_state"), output.LastHiddenState, Atol, what: "retrieval vision");
        using var vqa = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"));
        using var vqaOutput = vqa.VisionModel.forward(pixels);
        TensorAssert.AllClose(fixtures.Get("vqa.vision.last_hidden_state"), vqaOutput.LastHiddenState, Atol, what: "vqa vision");
    }

    [Test]
    [NonParallelizable]  // changes ActivationBudget.Bytes
    public void A_batch_encoded_in_groups_of_images_matches_transformers_and_the_single_pass()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        var vision = model.VisionModel;
        long saved = Blip.Engine.Modules.ActivationBudget.Bytes;
        try
        {
            using var inference = inference_mode();
            using var whole = vision.forward(pixels);
            Assert.That(vision.ImagesPerPass(pixels), Is.GreaterThanOrEqualTo(2), "the tiny batch fits the default budget");
            Blip.Engine.Modules.ActivationBudget.Bytes = 1;
            Assert.That(vision.ImagesPerPass(pixels), Is.EqualTo(1), "a 1-byte budget runs one image per pass");
            using var grouped = vision.forward(pixels);
            TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), grouped.LastHiddenState, Atol, what: "grouped last_hidden_state");
            TensorAssert.AllClose(fixtures.Get("captioning.vision.pooler_output"), grouped.PooledOutput, Atol, what: "grouped pooler_output");
            TensorAssert.AllClose(whole.LastHiddenState, grouped.LastHiddenState, 1e-6, what: "grouped vs single pass");
        }
        finally
        {
            Blip.Engine.Modules.ActivationBudget.Bytes = saved;
        }
        using (enable_grad())
            Assert.That(vision.ImagesPerPass(pixels), Is.EqualTo(long.MaxValue), "training keeps the batch whole");
    }

    [Test]
    public void Interpolated_position_encoding_at_the_native_size_equals_the_plain_one()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        TensorAssert.AllClose(model.VisionModel.Embeddings.forward(pixels, false), model.VisionModel.Embeddings.forward(pixels, true), 0, what: "interpolate at 384");
        var small = nn.functional.interpolate(pixels, size: [224, 224], mode: InterpolationMode.Bilinear);
        Assert.That(model.VisionModel.Embeddings.forward(small, true).shape, Is.EqualTo(new long[] { 2, 197, 32 }));
        var e = Assert.Throws<ArgumentException>(() => model.VisionModel.Embeddings.forward(small, false));
        Assert.That(e!.Message, Does.Contain("197").And.Contain("577"));
    }
}
