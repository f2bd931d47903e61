using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Tensors the models cannot use: a clear <see cref="ArgumentException"/> naming the argument, never
/// libtorch's own message (shapes that cannot be multiplied, unimplemented backends) or a silently odd answer.</summary>
[NonParallelizable]
public class ModelBadInputTests
{
    [Test]
    public void Pixels_or_ids_on_another_device_than_the_model_are_named()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        var e = Assert.Throws<ArgumentException>(() => model.VisionModel.forward(pixels.to(META)));
        Assert.That(e!.ParamName, Is.EqualTo("pixelValues"));
        Assert.That(e.Message, Does.Contain("meta").And.Contain("cpu"));
        var states = model.VisionModel.forward(pixels).LastHiddenState;
        var text = Assert.Throws<ArgumentException>(() => model.TextDecoder.Forward(full(2, 3, 5L).to(META), null, states, null));
        Assert.That(text!.ParamName, Is.EqualTo("inputIds"));
        Assert.That(text.Message, Does.Contain("meta").And.Contain("cpu"));
        var cross = Assert.Throws<ArgumentException>(() => model.TextDecoder.Forward(full(2, 3, 5L), null, states.to(META), null));
        Assert.That(cross!.ParamName, Is.EqualTo("encoderStates"));
    }

    /// <summary>An image smaller than one patch: transformers fails in the patch convolution (RuntimeError "Kernel size
    /// can't be greater than actual input size", with or without interpolate_pos_encoding); so did libtorch here, as an
    /// ExternalException with its C++ stack frames.</summary>
    [TestCase(15, 40, false)]
    [TestCase(15, 40, true)]
    [TestCase(384, 8, true)]
    public void Images_smaller_than_a_patch_are_named(int height, int width, bool interpolate)
    {
        using var scope = NewDisposeScope();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var e = Assert.Throws<ArgumentException>(() => model.Generate(zeros(1, 3, height, width), interpolatePosEncoding: interpolate).Dispose());
        Assert.That(e!.ParamName, Is.EqualTo("pixelValues"));
        Assert.That(e.Message, Does.Contain($"{height}x{width}").And.Contain("16"));
        using var smallest = model.VisionModel.forward(zeros(1, 3, 16, 16), true);
        Assert.That(smallest.LastHiddenState.shape, Is.EqualTo(new long[] { 1, 2, 32 }), "one patch is enough");
    }

    [Test]
    public void Float_token_ids_are_named()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var e = Assert.Throws<ArgumentException>(() => model.Forward(fixtures.Get("pixel_values"), full(2, 5, 3.0f), null));
        Assert.That(e!.ParamName, Is.EqualTo("inputIds"));
        Assert.That(e.Message, Does.Contain("Float32"));
    }

    [Test]
    public void Encoder_states_of_the_wrong_width_are_named()
    {
        using var scope = NewDisposeScope();
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
        int width = model.Config.VisionConfig.HiddenSize;
        var e = Assert.Throws<ArgumentException>(() => model.ItmLogits(randn(1, 5, width + 1), full(2, 3, 5L), null));
        Assert.That(e!.ParamName, Is.EqualTo("encoderStates"));
        Assert.That(e.Message, Does.Contain($"{width + 1}").And.Contain($"{width}"));
        Assert.Throws<ArgumentException>(() => model.ItmLogits(randn(5, width), full(2, 3, 5L), null), "[S,C] without the batch");
    }

    [TestCase(-1L)]
    [TestCase(64L)]
    public void Explicit_positions_outside_the_embedding_are_named(long position)
    {
        using var scope = NewDisposeScope();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        Assert.That(model.Config.TextConfig.MaxPositionEmbeddings, Is.EqualTo(64));
        var states = randn(2, 5, model.Config.VisionConfig.HiddenSize);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.TextDecoder.Forward(full(2, 3, 5L), null, states, null, positionIds: full(2, 3, position)));
        Assert.That(e!.ParamName, Is.EqualTo("positionIds"));
        Assert.That(e.Message, Does.Contain($"{position}"));
    }

    [TestCase(7L)]
    [TestCase(-1L)]
    public void Attention_masks_other_than_zeros_and_ones_are_named(long value)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var mask = ones(2, 3, dtype: ScalarType.Int64);   // generate() drops the last ([SEP]) position
        mask[1, 1] = tensor(value);
        var e = Assert.Throws<ArgumentException>(() => model.Generate(fixtures.Get("pixel_values"), full(2, 3, 1038L), mask).Dispose());
        Assert.That(e!.ParamName, Is.EqualTo("attentionMask"));
        Assert.That(e.Message, Does.Contain($"{value}"));
    }
}
