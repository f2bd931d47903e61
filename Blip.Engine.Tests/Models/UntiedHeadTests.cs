using System.Text.Json.Nodes;
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Models;

/// <summary>The LM head's tie, as transformers makes it: tied (decoder weight = word embeddings, decoder bias =
/// cls.predictions.bias) when the top-level or the text config says tie_word_embeddings, its own weight and bias
/// when both say false (Fixtures/untied, make_untied_fixture.py).</summary>
public class UntiedHeadTests
{
    private const double Atol = 1e-4;
    private const string DecoderWeight = "text_decoder.cls.predictions.decoder.weight";
    private const string DecoderBias = "text_decoder.cls.predictions.decoder.bias";

    // The tiny captioning folder, with config.json and model.safetensors from Fixtures/untied when untied.
    private static TempDir Folder(bool untied, Action<JsonNode>? editConfig = null)
    {
        var dir = TestPaths.NewTempDir();
        TestPaths.CopyFiles(TinyFixtures.ModelFolder("captioning"), dir.Path);
        if (untied)
            TestPaths.CopyFiles(TestPaths.Fixture("untied", "captioning"), dir.Path, overwrite: true);
        if (editConfig is not null)
        {
            string path = Path.Combine(dir.Path, "config.json");
            var config = JsonNode.Parse(File.ReadAllText(path))!;
            editConfig(config);
            File.WriteAllText(path, config.ToJsonString());
        }
        return dir;
    }

    [Test]
    public void An_untied_head_uses_its_own_weight_and_bias_as_transformers_does()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var dir = Folder(untied: true);
        using var tiny = new TinyFixtures();
        using var expected = new TinyFixtures("untied");
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path);
        var logits = model.Forward(tiny.Get("pixel_values"), tiny.Get("captioning.decoder_input_ids"), tiny.Get("captioning.attention_mask"));
        TensorAssert.AllClose(expected.Get("captioning.logits"), logits, Atol, what: "untied head's logits");
        TensorAssert.AllClose(expected.Get("captioning.loss").reshape([]), model.Loss(logits, tiny.Get("captioning.input_ids")), Atol, what: "untied head's loss");
        // the fixture's max_length 20 (transformers' BLIP generate() default), not the engine's 20 new tokens
        using var result = model.Generate(tiny.Get("pixel_values"), options: new GenerationOptions { MaxLength = 20 });
        TensorAssert.Equal(expected.Get("captioning.generate.greedy"), result.Sequences, "untied head's greedy ids");
    }

    [Test]
    public void Fine_tuning_trains_and_exports_an_untied_heads_own_weight_and_bias()
    {
        using var scope = NewDisposeScope();
        using var dir = Folder(untied: true);
        using var exported = TestPaths.NewTempDir();
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path, memoryMap: false);
        var trainable = ModelParameters.Trainable(model, ModelParts.None).Select(p => p.Name).ToList();
        Assert.That(trainable, Does.Contain(DecoderWeight).And.Contain(DecoderBias), "the untied head's tensors are trained");
        var weights = ModelParameters.StateDict(model).Select(kv => kv.Key).ToList();
        Assert.That(weights, Does.Contain(DecoderWeight).And.Contain(DecoderBias), "and exported");
        HubExport.Save(model, dir.Path, exported.Path);
        using var tiny = new TinyFixtures();
        using var expected = new TinyFixtures("untied");
        using var reloaded = BlipForConditionalGeneration.FromPretrained(exported.Path);
        using var inference = inference_mode();
        var logits = reloaded.Forward(tiny.Get("pixel_values"), tiny.Get("captioning.decoder_input_ids"), tiny.Get("captioning.attention_mask"));
        TensorAssert.AllClose(expected.Get("captioning.logits"), logits, Atol, what: "logits of the exported untied model");
    }

    [Test]
    public void A_tied_head_is_trained_and_exported_once_under_the_word_embeddings_name()
    {
        using var scope = NewDisposeScope();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: false);
        var trainable = ModelParameters.Trainable(model, ModelParts.None).Select(p => p.Name).ToList();
        var weights = ModelParameters.StateDict(model).Select(kv => kv.Key).ToList();
        foreach (var names in new[] { trainable, weights })
            Assert.That(names, Does.Not.Contain(DecoderWeight).And.Not.Contain(DecoderBias)
                .And.Contain("text_decoder.bert.embeddings.word_embeddings.weight").And.Contain("text_decoder.cls.predictions.bias"));
    }

    [TestCase(true, false)]
    [TestCase(false, true)]
    public void Either_tie_flag_ties_the_head_as_in_transformers(bool topLevel, bool text)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var dir = Folder(untied: false, c =>
        {
            c["tie_word_embeddings"] = topLevel;
            c["text_config"]!["tie_word_embeddings"] = text;
        });
        Assert.That(BlipConfig.Load(dir.Path).TextConfig.TieWordEmbeddings, Is.True);
        using var tiny = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path);
        var logits = model.Forward(tiny.Get("pixel_values"), tiny.Get("captioning.decoder_input_ids"), tiny.Get("captioning.attention_mask"));
        TensorAssert.AllClose(tiny.Get("captioning.logits"), logits, Atol, what: $"logits, tie_word_embeddings {topLevel}, text_config's {text}");
    }

    [Test]
    public void An_untied_head_absent_from_the_file_names_the_flag_and_both_keys()
    {
        using var dir = Folder(untied: false, c =>
        {
            c["tie_word_embeddings"] = false;
            c["text_config"]!["tie_word_embeddings"] = false;
        });
        var e = Assert.Throws<ConfigException>(() => BlipForConditionalGeneration.FromPretrained(dir.Path));
        Assert.That(e!.Field, Is.EqualTo("tie_word_embeddings"));
        Assert.That(e.Message, Does.Contain("config.json").And.Contain("model.safetensors").And.Contain(DecoderWeight).And.Contain(DecoderBias));
    }
}
