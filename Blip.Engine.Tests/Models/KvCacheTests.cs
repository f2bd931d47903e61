using Blip.Engine.Models;
using Blip.Engine.Modules.Text;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Decoding step by step with the K/V cache equals decoding the whole sequence at once.</summary>
public class KvCacheTests
{
    [Test]
    public void Cached_steps_equal_the_uncached_forward_within_1e5()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));
        var ids = fixtures.Get("captioning.decoder_input_ids")[..1];                                        // [1,T]
        var image = vision.LastHiddenState[..1];
        var full = model.TextDecoder.Forward(ids, encoderStates: image);                                    // [1,T,V]
        using var cache = new TextDecoderCache(model.Config.TextConfig.NumHiddenLayers);
        var prefix = model.TextDecoder.Forward(ids[.., ..2], encoderStates: image, cache: cache);           // first 2 at once
        var steps = new List<Tensor> { prefix };
        for (long t = 2; t < ids.shape[1]; t++)
            steps.Add(model.TextDecoder.Forward(ids[.., (int)t..(int)(t + 1)], encoderStates: null, cache: cache));
        Assert.That(cache.Length, Is.EqualTo(ids.shape[1]));
        TensorAssert.AllClose(full, cat(steps, dim: 1), 1e-5, what: "cached vs uncached logits");
    }

    [Test]
    public void Beams_sharing_one_copy_of_the_image_keys_equal_repeated_image_states()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));                        // [2,S,C]
        const int beams = 3;
        var ids = randint(0, 1000, [2 * beams, 5], dtype: ScalarType.Int64);
        var repeated = vision.LastHiddenState.repeat_interleave(beams, dim: 0);                            // [6,S,C]
        var expected = model.TextDecoder.Forward(ids, encoderStates: repeated);
        using var cache = new TextDecoderCache(model.Config.TextConfig.NumHiddenLayers);
        var shared = model.TextDecoder.Forward(ids, encoderStates: vision.LastHiddenState, cache: cache);
        Assert.That(cache.Layers[0].Cross.Keys!.shape[0], Is.EqualTo(2), "one copy of the image K/V per image, not per beam");
        TensorAssert.AllClose(expected, shared, 1e-5, what: "shared cross K/V vs repeated image states");
    }

    [Test]
    public void Last_only_logits_equal_the_last_position_of_the_full_logits()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));
        var ids = fixtures.Get("captioning.decoder_input_ids");
        var full = model.TextDecoder.Forward(ids, encoderStates: vision.LastHiddenState);
        var last = model.TextDecoder.Forward(ids, encoderStates: vision.LastHiddenState, lastOnly: true);
        Assert.That(last.shape, Is.EqualTo(new[] { ids.shape[0], 1, full.shape[2] }));
        TensorAssert.AllClose(full[.., ^1.., ..], last, 1e-5, what: "lastOnly (the LM head on one row: other GEMM blocking)");
    }

    [Test]
    public void The_prefill_fills_every_layers_image_keys_and_later_states_do_not_replace_them()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));                        // [2,S,C]
        var ids = fixtures.Get("captioning.decoder_input_ids")[..1];                                        // [1,T]
        var (first, second) = (vision.LastHiddenState[..1], vision.LastHiddenState[1..2]);
        using var cache = new TextDecoderCache(model.Config.TextConfig.NumHiddenLayers);
        model.TextDecoder.Forward(ids[.., ..2], encoderStates: first, cache: cache);
        Assert.That(cache.Layers.All(l => l.Cross.IsSet && l.Cross.Length == first.shape[1]), Is.True, "every layer's cross K/V after the prefill");
        var keys = cache.Layers.Select(l => l.Cross.Keys!.clone()).ToArray();
        using var again = new TextDecoderCache(model.Config.TextConfig.NumHiddenLayers);
        model.TextDecoder.Forward(ids[.., ..2], encoderStates: first, cache: again);
        var expected = model.TextDecoder.Forward(ids[.., 2..3], encoderStates: null, cache: again);
        var actual = model.TextDecoder.Forward(ids[.., 2..3], encoderStates: second, cache: cache);  // the cache wins
        TensorAssert.AllClose(expected, actual, 0, what: "a step given other states with a filled cache");
        for (int i = 0; i < keys.Length; i++)
            TensorAssert.AllClose(keys[i], cache.Layers[i].Cross.Keys!, 0, what: $"layer {i} image keys");
    }
}
