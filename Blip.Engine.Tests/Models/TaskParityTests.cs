using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Captioning, retrieval and VQA outputs against what transformers computed for the tiny checkpoints, with the
/// linears as this CPU gets them (Auto) and every kernel forced on (Always: SkinnyLinear, OneDnnLinear).</summary>
[TestFixture("Auto")]
[TestFixture("Always")]
[NonParallelizable]  // sets the process-wide kernel policies
public class TaskParityTests(string policy) : KernelPolicyFixture(policy)
{
    private const double Atol = 1e-4;

    [Test]
    public void Captioning_logits_and_loss_match_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var ids = fixtures.Get("captioning.decoder_input_ids");
        var logits = model.Forward(fixtures.Get("pixel_values"), ids, fixtures.Get("captioning.attention_mask"));
        TensorAssert.AllClose(fixtures.Get("captioning.logits"), logits, Atol, what: "captioning logits");
        TensorAssert.AllClose(fixtures.Get("captioning.loss"), model.Loss(logits, fixtures.Get("captioning.input_ids")), Atol, what: "captioning loss");
    }

    [Test]
    public void Retrieval_itm_logits_itc_cosine_and_text_states_match_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));
        var ids = fixtures.Get("retrieval.input_ids");
        var mask = fixtures.Get("retrieval.attention_mask");
        TensorAssert.AllClose(fixtures.Get("retrieval.text_embeds"), model.TextEncoder.Forward(ids, mask), Atol, what: "text encoder (no image)");
        TensorAssert.AllClose(fixtures.Get("retrieval.itm_text_hidden"),
            model.TextEncoder.Forward(ids, mask, encoderStates: vision.LastHiddenState), Atol, what: "text encoder (cross-attending)");
        TensorAssert.AllClose(fixtures.Get("retrieval.itm_logits"), model.ItmLogits(vision.LastHiddenState, ids, mask), Atol, what: "ITM logits");
        TensorAssert.AllClose(fixtures.Get("retrieval.image_feat"), model.ImageFeatures(vision.LastHiddenState), Atol, what: "image_feat");
        TensorAssert.AllClose(fixtures.Get("retrieval.text_feat"), model.TextFeatures(ids, mask), Atol, what: "text_feat");
        TensorAssert.AllClose(fixtures.Get("retrieval.itc_cosine"), model.ItcSimilarity(vision.LastHiddenState, ids, mask), Atol, what: "ITC cosine");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(5)]
    public void Many_text_features_sorted_and_cut_per_batch_match_transformers(int batchSize)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
        var ids = fixtures.Get("retrieval.input_ids");    // a long text, then a short one with 6 padding columns
        var mask = fixtures.Get("retrieval.attention_mask");
        Assert.That(mask[1].sum().item<long>(), Is.LessThan(mask.shape[1]), "the fixture should hold a padded text");
        TensorAssert.AllClose(fixtures.Get("retrieval.text_feat"), model.TextFeatures(ids, mask, batchSize), Atol, what: $"text_feat, batches of {batchSize}");
        // Left padding: extents are full, nothing is cut, rows keep their places.
        var extra = cat([ids, zeros_like(ids)], dim: 1).roll(ids.shape[1], 1);
        var extraMask = cat([mask, zeros_like(mask)], dim: 1).roll(mask.shape[1], 1);
        TensorAssert.AllClose(model.TextFeatures(extra, extraMask), model.TextFeatures(extra, extraMask, batchSize), 1e-5, what: "left-padded rows");
        Assert.That(() => model.TextFeatures(ids, mask[.., 1..], batchSize), Throws.ArgumentException.With.Message.Contains("attention_mask"));
    }

    [Test]
    [NonParallelizable]  // changes ActivationBudget.Bytes
    public void Many_text_features_within_a_small_activation_budget_match_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
        var (ids, mask) = (fixtures.Get("retrieval.input_ids"), fixtures.Get("retrieval.attention_mask"));
        long saved = Blip.Engine.Modules.ActivationBudget.Bytes;
        try
        {
            // One text's feed-forward activation is 13 tokens × 96 × 4 bytes; this budget holds one text, not two.
            Blip.Engine.Modules.ActivationBudget.Bytes = 13 * 96 * 4 + 1;
            Assert.That(Blip.Engine.Modules.ActivationBudget.Rows(13 * 96 * 4, CPU), Is.EqualTo(1));
            TensorAssert.AllClose(fixtures.Get("retrieval.text_feat"), model.TextFeatures(ids, mask, 250), Atol, what: "text_feat, one text per call by the budget");
        }
        finally
        {
            Blip.Engine.Modules.ActivationBudget.Bytes = saved;
        }
        using (enable_grad())
            Assert.That(Blip.Engine.Modules.ActivationBudget.Rows(long.MaxValue / 2, CPU), Is.EqualTo(long.MaxValue), "training is not limited");
    }

    [Test]
    public void Vqa_question_states_answer_logits_and_loss_match_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"));
        using var vision = model.VisionModel.forward(fixtures.Get("pixel_values"));
        var mask = fixtures.Get("vqa.attention_mask");
        var question = model.EncodeQuestion(vision.LastHiddenState, fixtures.Get("vqa.input_ids"), mask);
        TensorAssert.AllClose(fixtures.Get("vqa.question_embeds"), question, Atol, what: "VQA question states");
        var labels = fixtures.Get("vqa.labels");
        var logits = model.AnswerLogits(question, mask, labels);
        TensorAssert.AllClose(fixtures.Get("vqa.decoder_logits"), logits, Atol, what: "VQA answer logits");
        TensorAssert.AllClose(fixtures.Get("vqa.loss"), model.Loss(logits, labels), Atol, what: "VQA loss");
    }

    [Test]
    public void Vqa_original_blip_question_masking_changes_only_padded_questions()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"));
        model.MaskQuestionPaddingInDecoder = true;
        var mask = fixtures.Get("vqa.attention_mask");
        Assert.That(mask[0].sum().item<long>(), Is.LessThan(mask.shape[1]), "fixture question 0 must be padded");
        Assert.That(mask[1].sum().item<long>(), Is.EqualTo(mask.shape[1]), "fixture question 1 must be unpadded");
        var logits = model.AnswerLogits(fixtures.Get("vqa.question_embeds"), mask, fixtures.Get("vqa.labels"));
        var expected = fixtures.Get("vqa.decoder_logits");
        TensorAssert.AllClose(expected[1], logits[1], Atol, what: "unpadded question");
        Assert.That((expected[0] - logits[0]).abs().max().item<float>(), Is.GreaterThan(1e-3f), "masking the padding must matter");
    }
}
