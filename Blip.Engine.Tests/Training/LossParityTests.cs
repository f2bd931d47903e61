// The training losses and their gradients against transformers' backward pass (Fixtures/training, written by
// tools/reference/make_training_fixtures.py) on the tiny models.
using Blip.Engine.Checkpoints;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class LossParityTests
{
    private static readonly string[] Captions = ["a photography of a dog, running!", "a photography of cafe deja vu"];

    private static readonly string[] CaptionGrads =
    [
        "vision_model.embeddings.patch_embedding.weight",
        "vision_model.encoder.layers.0.self_attn.qkv.weight",
        "text_decoder.bert.encoder.layer.0.crossattention.self.key.weight",
        "text_decoder.cls.predictions.transform.dense.weight",
        "text_decoder.bert.embeddings.word_embeddings.weight",
    ];

    private static readonly string[] RetrievalGrads =
    [
        "vision_model.encoder.layers.1.self_attn.qkv.weight",
        "text_encoder.encoder.layer.0.crossattention.self.key.weight",
        "text_encoder.encoder.layer.1.attention.self.query.weight",
        "vision_proj.weight",
        "text_proj.weight",
        "itm_head.weight",
    ];

    private static SafeTensorsFile OpenExpected() => SafeTensorsFile.Open(TestPaths.Fixture("training", "expected.safetensors"));

    [TestCase("hf")]
    [TestCase("blip")]
    public void Caption_loss_and_gradients_equal_transformers(string setting)
    {
        using var scope = NewDisposeScope();
        using var expected = OpenExpected();
        using var tiny = new TinyFixtures();
        string folder = TinyFixtures.ModelFolder("captioning");
        using var model = BlipForConditionalGeneration.FromPretrained(folder);
        model.train();
        using var tokenizer = BlipTokenizer.Load(folder);
        var settings = setting == "hf" ? CaptionLossSettings.Transformers : CaptionLossSettings.OriginalBlip("a photography of ");
        using var targets = CaptionTargets.Build(tokenizer, Captions, settings);
        string p = $"caption.{setting}.";
        TensorAssert.Equal(expected.Load(p + "input_ids"), targets.InputIds, "input_ids");
        TensorAssert.Equal(expected.Load(p + "attention_mask"), targets.AttentionMask, "attention_mask");
        TensorAssert.Equal(expected.Load(p + "labels"), targets.Labels, "labels");

        var loss = CaptionLoss.Compute(model, tiny.Get("pixel_values"), targets, settings);
        loss.backward();
        TensorAssert.AllClose(expected.Load(p + "loss"), loss.reshape(1), 1e-5, 0, $"{setting} loss");
        var grads = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        foreach (var name in CaptionGrads)
            TensorAssert.AllClose(expected.Load(p + "grad." + name), grads[name].grad!, 1e-4, 0, $"{setting} d/d {name}");
    }

    [Test]
    public void Itc_and_itm_losses_and_gradients_equal_the_original_formulas_in_torch()
    {
        using var scope = NewDisposeScope();
        using var expected = OpenExpected();
        using var tiny = new TinyFixtures();
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
        model.train();
        var ids = expected.Load("retrieval.input_ids");
        var mask = expected.Load("retrieval.attention_mask");
        var temp = tensor(0.07f).requires_grad_(true);
        using var vision = model.VisionModel.forward(tiny.Get("pixel_values"));
        var image = vision.LastHiddenState;
        var itc = RetrievalLoss.Itc(model.ImageFeatures(image), model.TextFeatures(ids, mask), temp);
        var negatives = tensor(new long[] { 1, 0 });
        var itm = RetrievalLoss.Itm(model, image, ids, mask, negatives, negatives);
        (itc + itm).backward();
        TensorAssert.AllClose(expected.Load("retrieval.itc_loss"), itc.reshape(1), 1e-5, 0, "ITC loss");
        TensorAssert.AllClose(expected.Load("retrieval.itm_loss"), itm.reshape(1), 1e-5, 0, "ITM loss");
        TensorAssert.AllClose(expected.Load("retrieval.grad.temp"), temp.grad!.reshape(1), 1e-4, 1e-5, "d/d temp");
        var grads = model.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        foreach (var name in RetrievalGrads)
            TensorAssert.AllClose(expected.Load("retrieval.grad." + name), grads[name].grad!, 1e-4, 0, $"d/d {name}");
    }
}
