using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Modules.Text;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>How the loop drives the decoder: cache vs recompute, one prefill then one id per step, image K/V shared
/// by beams, no leaked tensors, repeatable sampling.</summary>
[NonParallelizable]
public class DecodingLoopTests
{
    [TestCase(false)]
    [TestCase(true)]
    public void Cached_greedy_equals_recomputing_the_whole_sequence_every_step(bool prompt)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var inference = inference_mode();
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));
        var (ids, mask) = prompt
            ? (fixtures.Get("captioning.input_ids")[.., ..^1].clone(), fixtures.Get("captioning.attention_mask")[.., ..^1])
            : (full(2, 1, 1038L), ones(2, 1, dtype: ScalarType.Int64));
        ids[.., 0] = tensor(1038L);
        var options = new GenerationOptions { MaxLength = 20, RepetitionPenalty = 1.2, NoRepeatNgramSize = 3 };
        var stop = new StopTokens(102, 0);
        using var cached = TextGenerator.Generate(new CaptionerStepDecoder(model.TextDecoder, vision.LastHiddenState, null), ids, mask, options, stop);
        using var naive = TextGenerator.Generate(new RecomputingDecoder(model.TextDecoder, vision.LastHiddenState), ids, mask, options, stop);
        TensorAssert.Equal(naive.Sequences, cached.Sequences, "cached vs recomputed greedy ids");
    }

    [Test]
    public void Beam_search_prefills_once_then_feeds_one_id_per_beam_and_keeps_one_copy_of_each_image()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var inference = inference_mode();
        using var vision = model.VisionModel.forward(GenerationFixtures.FourImages(fixtures.Get("pixel_values")));
        var spy = new SpyDecoder(new CaptionerStepDecoder(model.TextDecoder, vision.LastHiddenState, null));
        var prompt = fixtures.Get("captioning.input_ids")[..1, ..5].repeat(4, 1);     // [4,5]
        prompt[.., 0] = tensor(1038L);
        using var result = TextGenerator.Generate(spy, prompt, null, new GenerationOptions { NumBeams = 3, MaxLength = 12 }, new StopTokens(102, 0));
        Assert.That(spy.Steps[0], Is.EqualTo((12L, 5L, 4L)), "prefill: 4 images × 3 beams, the whole prompt, 4 copies of image K/V");
        Assert.That(spy.Steps.Skip(1).All(s => s == (12L, 1L, 4L)), Is.True, "then one id per beam, image K/V never copied per beam");
    }

    [Test]
    public void Generate_leaves_no_live_tensors()
    {
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var vqa = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"));
        using var pixels = fixtures.Get("pixel_values");
        using var prompt = fixtures.Get("captioning.input_ids");
        using var promptMask = fixtures.Get("captioning.attention_mask");
        using var question = fixtures.Get("vqa.input_ids");
        void All()
        {
            using (model.Generate(pixels, prompt, promptMask, new GenerationOptions { MaxLength = 16 })) { }
            using (model.Generate(pixels, options: new GenerationOptions { NumBeams = 3, MaxLength = 12, NumReturnSequences = 2 })) { }
            using (model.Generate(pixels, prompt, promptMask, new GenerationOptions { DoSample = true, Seed = 5, TopP = 0.9, PromptPadding = PromptPadding.PerSequence })) { }
            using (vqa.Generate(pixels, question, null, new GenerationOptions { NumBeams = 2, MaxLength = 8 })) { }
        }
        All();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        All();
        All();
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Assert.That(after, Is.EqualTo(before), "tensors leaked by Generate");
    }

    [Test]
    public void Sampling_with_a_seed_is_repeatable_and_another_seed_differs()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        var options = new GenerationOptions { DoSample = true, Seed = 7, MaxLength = 20, NumReturnSequences = 3 };
        using var first = model.Generate(pixels, options: options);
        using var again = model.Generate(pixels, options: options);
        using var other = model.Generate(pixels, options: options with { Seed = 8 });
        TensorAssert.Equal(first.Sequences, again.Sequences, "same seed");
        Assert.That(first.Sequences.shape, Is.EqualTo(new long[] { 6, first.Sequences.shape[1] }));
        Assert.That(other.Tokens.Select(t => string.Join(",", t)), Is.Not.EqualTo(first.Tokens.Select(t => string.Join(",", t))));
    }

    /// <summary>No cache: re-runs the decoder over the whole sequence at every step.</summary>
    private sealed class RecomputingDecoder(BlipTextLMHeadModel decoder, Tensor states) : IStepDecoder
    {
        private Tensor? ids, positions;

        public TextDecoderCache CreateCache() => new(decoder.Config.NumHiddenLayers);

        public Tensor NextLogits(Tensor newIds, Tensor attentionMask, TextDecoderCache cache, Tensor? positionIds)
        {
            ids = Grow(ids, newIds);
            positions = Grow(positions, positionIds!);
            using var scope = NewDisposeScope();
            var logits = decoder.Forward(ids, attentionMask, states, positionIds: positions);            // [B,T,V]
            return logits.select(1, -1).MoveToOuterDisposeScope();
        }

        private static Tensor Grow(Tensor? all, Tensor step) =>
            (all is null ? step.clone() : cat([all, step], dim: 1)).DetachFromDisposeScope();
    }

    /// <summary>Records (rows, new ids per row, rows of the cached image K/V) at every step.</summary>
    private sealed class SpyDecoder(IStepDecoder inner) : IStepDecoder
    {
        public List<(long Rows, long NewIds, long ImageRows)> Steps { get; } = [];

        public TextDecoderCache CreateCache() => inner.CreateCache();

        public Tensor NextLogits(Tensor newIds, Tensor attentionMask, TextDecoderCache cache, Tensor? positionIds)
        {
            var logits = inner.NextLogits(newIds, attentionMask, cache, positionIds);
            Steps.Add((newIds.shape[0], newIds.shape[1], cache.Layers[0].Cross.Keys!.shape[0]));
            return logits;
        }
    }
}
