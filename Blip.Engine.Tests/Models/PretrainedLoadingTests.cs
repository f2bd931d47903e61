using System.Diagnostics;
using System.Text.Json.Nodes;
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Loading task models from Hub-layout folders: the tolerated variations load; every other difference is
/// reported at once, by key.</summary>
public class PretrainedLoadingTests
{
    private static TempDir CopyWithWeights(string model, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>> edit)
    {
        var (dir, source) = CopyFixture(model, f => !f.EndsWith(".safetensors", StringComparison.Ordinal));
        using var reader = CheckpointReader.OpenFolder(source);
        var tensors = reader.Names.ToDictionary(n => n, n => reader.Load(n));
        SafeTensorsWriter.Save(Path.Combine(dir.Path, "model.safetensors"), edit(tensors));
        return dir;
    }

    private static TempDir CopyWithConfig(string model, Action<JsonNode> edit)
    {
        var (dir, _) = CopyFixture(model, _ => true);
        EditConfig(dir.Path, edit);
        return dir;
    }

    private static (TempDir Dir, string Source) CopyFixture(string model, Func<string, bool> include)
    {
        var dir = TestPaths.NewTempDir();
        var source = TinyFixtures.ModelFolder(model);
        foreach (var file in Directory.GetFiles(source).Where(include))
            File.Copy(file, Path.Combine(dir.Path, Path.GetFileName(file)));
        return (dir, source);
    }

    [Test]
    public void Older_hub_files_with_tied_decoder_weight_and_position_ids_load_and_give_the_same_logits()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var dir = CopyWithWeights("captioning", t =>
        {
            t["text_decoder.cls.predictions.decoder.weight"] = t["text_decoder.bert.embeddings.word_embeddings.weight"];
            t["text_decoder.cls.predictions.decoder.bias"] = t["text_decoder.cls.predictions.bias"];
            t["text_decoder.bert.embeddings.position_ids"] = arange(64, dtype: ScalarType.Int64).unsqueeze(0);
            return t;
        });
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path);
        var logits = model.Forward(fixtures.Get("pixel_values"), fixtures.Get("captioning.decoder_input_ids"), fixtures.Get("captioning.attention_mask"));
        TensorAssert.AllClose(fixtures.Get("captioning.logits"), logits, 1e-4, what: "logits from an older-layout file");
    }

    [Test]
    public void Missing_unexpected_and_misshaped_keys_are_all_named_in_one_error()
    {
        using var scope = NewDisposeScope();
        using var dir = CopyWithWeights("retrieval", t =>
        {
            t.Remove("itm_head.bias");
            t["text_encoder.pooler.dense.weight"] = zeros(48, 48);
            t["vision_proj.weight"] = zeros(16, 31);
            return t;
        });
        var e = Assert.Throws<StateDictMismatchException>(() => BlipForImageTextRetrieval.FromPretrained(dir.Path));
        Assert.That(e!.Message, Does.Contain("itm_head.bias")
            .And.Contain("text_encoder.pooler.dense.weight")
            .And.Contain("vision_proj.weight")
            .And.Contain("model.safetensors"));
    }

    [TestCase("retrieval", "captioning", "BlipForImageTextRetrieval", "blip match")]
    [TestCase("vqa", "captioning", "BlipForQuestionAnswering", "blip vqa")]
    [TestCase("captioning", "retrieval", "BlipForConditionalGeneration", "blip caption")]
    [TestCase("vqa", "retrieval", "BlipForQuestionAnswering", "blip vqa")]
    [TestCase("captioning", "vqa", "BlipForConditionalGeneration", "blip caption")]
    [TestCase("retrieval", "vqa", "BlipForImageTextRetrieval", "blip match")]
    public void A_checkpoint_of_another_task_is_named_by_its_architectures(string folder, string openedAs, string architecture, string command)
    {
        string path = TinyFixtures.ModelFolder(folder);
        Action open = openedAs switch
        {
            "captioning" => () => BlipForConditionalGeneration.FromPretrained(path).Dispose(),
            "retrieval" => () => BlipForImageTextRetrieval.FromPretrained(path).Dispose(),
            _ => () => BlipForQuestionAnswering.FromPretrained(path).Dispose(),
        };
        var e = Assert.Throws<StateDictMismatchException>(() => open());
        Assert.That(e!.Message, Does.Contain(Path.Combine(path, "config.json")).And.Contain($"architectures [{architecture}]").And.Contain(command));
        Assert.That(e.Hint, Does.Contain($"architectures [{architecture}]"));
        Assert.That(e.Summary(3), Does.Contain(e.Hint!).And.Not.Contain(Environment.NewLine));
        // The message lists at most StateDictMismatchException.KeysShown keys a group; the report keeps them all.
        var groups = new[] { e.Report.Missing, e.Report.Unexpected };
        Assert.That(groups.Sum(g => g.Count), Is.GreaterThan(0));
        foreach (var g in groups.Where(g => g.Count > StateDictMismatchException.KeysShown))
        {
            Assert.That(e.Message, Does.Contain($"... and {g.Count - StateDictMismatchException.KeysShown} more"));
            Assert.That(e.Message, Does.Not.Contain(g[^1]), "the last key of a long group is left to the report");
        }
    }

    // The 2-layer checkpoint is compared with the config before any module is built: a config of many layers (here
    // within the bounds of ConfigLimits) is refused at once, naming the field and both counts.
    [TestCase("vision_config", 1000, "vision_model.encoder.layers.")]
    [TestCase("text_config", 12, "text_decoder.bert.encoder.layer.")]
    public void A_config_whose_layer_count_differs_from_the_checkpoint_is_refused_before_building(string half, int layers, string prefix)
    {
        using var dir = CopyWithConfig("captioning", c => c[half]!["num_hidden_layers"] = layers);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<ConfigException>(() => BlipForConditionalGeneration.FromPretrained(dir.Path));
        Assert.That(e!.Field, Is.EqualTo($"{half}.num_hidden_layers"));
        Assert.That(e.Message, Does.Contain("config.json").And.Contain($"{layers} layers").And.Contain("model.safetensors")
            .And.Contain("holds 2").And.Contain(prefix));
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "the check runs before the modules are built");
    }

    [Test]
    public void A_folder_without_config_or_weights_says_what_is_missing()
    {
        using var empty = TestPaths.NewTempDir();
        var noConfig = Assert.Throws<Blip.Engine.Config.ConfigException>(() => BlipForConditionalGeneration.FromPretrained(empty.Path));
        Assert.That(noConfig!.Message, Does.Contain("config.json"));
        File.Copy(Path.Combine(TinyFixtures.ModelFolder("captioning"), "config.json"), Path.Combine(empty.Path, "config.json"));
        File.WriteAllBytes(Path.Combine(empty.Path, "pytorch_model.bin"), [1, 2, 3]);
        var binOnly = Assert.Throws<CheckpointFormatException>(() => BlipForConditionalGeneration.FromPretrained(empty.Path));
        Assert.That(binOnly!.Message, Does.Contain("pytorch_model.bin"));
    }

    [Test]
    public void Loads_in_bfloat16_and_stays_close_to_float32()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), dtype: ScalarType.BFloat16);
        Assert.That(model.parameters().All(p => p.dtype == ScalarType.BFloat16));
        var logits = model.Forward(fixtures.Get("pixel_values").to(ScalarType.BFloat16), fixtures.Get("captioning.decoder_input_ids"), fixtures.Get("captioning.attention_mask"));
        Assert.That(logits.dtype, Is.EqualTo(ScalarType.BFloat16));
        var weights = model.state_dict();
        AssertShareMemory(weights["text_decoder.cls.predictions.decoder.weight"], weights["text_decoder.bert.embeddings.word_embeddings.weight"], "decoder weight");
        AssertShareMemory(weights["text_decoder.cls.predictions.decoder.bias"], weights["text_decoder.cls.predictions.bias"], "decoder bias");
        var expected = fixtures.Get("captioning.logits");
        double scale = expected.abs().max().item<float>();
        TensorAssert.AllClose(expected, logits.to(ScalarType.Float32), 0.1 * scale, what: "bfloat16 logits (10% of the largest logit)");
    }

    // transformers 5's from_pretrained (dtype="auto") takes the config's "dtype": float32 in the fixture, so a float16
    // (or bfloat16, float64) file becomes a float32 model, every weight exactly the file's value cast.
    [TestCase(ScalarType.Float16, false)]
    [TestCase(ScalarType.Float16, true)]
    [TestCase(ScalarType.BFloat16, true)]
    [TestCase(ScalarType.Float64, false)]
    public void A_checkpoint_in_another_float_dtype_is_cast_to_the_models_float32(ScalarType fileType, bool memoryMap)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var dir = CopyWithWeights("captioning", t => t.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(fileType) : kv.Value));
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path, memoryMap: memoryMap);
        using var file = SafeTensorsFile.Open(Path.Combine(dir.Path, "model.safetensors"));
        var state = model.state_dict();
        Assert.That(state.Where(kv => kv.Value.is_floating_point() && kv.Value.dtype != ScalarType.Float32).Select(kv => $"{kv.Key}: {kv.Value.dtype}"),
            Is.Empty, "weights not in the model's float32");
        foreach (var key in file.Tensors.Keys)
            TensorAssert.Equal(file.Load(key).to(ScalarType.Float32), state[key], key);
        using var fixtures = new TinyFixtures();
        var logits = model.Forward(fixtures.Get("pixel_values"), fixtures.Get("captioning.decoder_input_ids"), fixtures.Get("captioning.attention_mask"));
        var expected = fixtures.Get("captioning.logits");
        TensorAssert.AllClose(expected, logits, 0.1 * expected.abs().max().item<float>(), what: $"logits from a {fileType} file (10% of the largest logit)");
    }

    // dtype="auto" without a "dtype" in the config: torch_dtype (older files), else the first floating weight's dtype.
    [TestCase("dtype", "bfloat16", ScalarType.Float32, ScalarType.BFloat16)]
    [TestCase("torch_dtype", "float16", ScalarType.Float32, ScalarType.Float16)]
    [TestCase(null, null, ScalarType.Float16, ScalarType.Float16)]
    [TestCase(null, null, ScalarType.Float32, ScalarType.Float32)]
    public void With_no_dtype_asked_the_model_takes_the_configs_dtype_else_the_files(string? field, string? value, ScalarType fileType, ScalarType expected)
    {
        using var scope = NewDisposeScope();
        using var dir = CopyWithWeights("captioning", t => t.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(fileType) : kv.Value));
        EditConfig(dir.Path, c =>
        {
            c.AsObject().Remove("dtype");
            if (field is not null) c[field] = value;
        });
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path, memoryMap: true);
        var state = model.state_dict();
        Assert.That(state.Where(kv => kv.Value.is_floating_point()).Select(kv => kv.Value.dtype).Distinct(), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void A_config_dtype_that_is_no_floating_torch_dtype_is_named()
    {
        using var dir = CopyWithConfig("captioning", c => c["dtype"] = "int8");
        var e = Assert.Throws<ConfigException>(() => BlipForConditionalGeneration.FromPretrained(dir.Path));
        Assert.That(e!.Field, Is.EqualTo("dtype"));
        Assert.That(e.Message, Does.Contain("int8").And.Contain("config.json"));
    }

    private static void EditConfig(string folder, Action<JsonNode> edit)
    {
        string path = Path.Combine(folder, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        edit(config);
        File.WriteAllText(path, config.ToJsonString());
    }

    [Test]
    public void A_float16_checkpoint_loads_in_the_dtype_asked()
    {
        using var scope = NewDisposeScope();
        using var dir = CopyWithWeights("captioning", t => t.ToDictionary(kv => kv.Key, kv => kv.Value.is_floating_point() ? kv.Value.to(ScalarType.Float16) : kv.Value));
        using var model = BlipForConditionalGeneration.FromPretrained(dir.Path, dtype: ScalarType.BFloat16, memoryMap: true);
        using var file = SafeTensorsFile.Open(Path.Combine(dir.Path, "model.safetensors"));
        var weight = model.state_dict()["vision_model.embeddings.patch_embedding.weight"];
        Assert.That(weight.dtype, Is.EqualTo(ScalarType.BFloat16));
        TensorAssert.Equal(file.Load("vision_model.embeddings.patch_embedding.weight").to(ScalarType.BFloat16), weight, "patch embedding");
    }

    // Integers where the module holds floats (or the reverse) are no dtype to cast: the file is not this model's.
    [TestCase(false)]
    [TestCase(true)]
    public void An_integer_tensor_for_a_float_weight_is_refused_naming_key_and_both_dtypes(bool intoExistingModel)
    {
        using var scope = NewDisposeScope();
        using var dir = CopyWithWeights("retrieval", t =>
        {
            t["vision_proj.weight"] = t["vision_proj.weight"].to(ScalarType.Int32);
            return t;
        });
        StateDictMismatchException? e;
        if (intoExistingModel)
        {
            using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
            using var reader = CheckpointReader.OpenFolder(dir.Path);
            e = Assert.Throws<StateDictMismatchException>(() => PretrainedLoader.LoadWeights(model, reader));
        }
        else
        {
            e = Assert.Throws<StateDictMismatchException>(() => BlipForImageTextRetrieval.FromPretrained(dir.Path));
        }
        Assert.That(e!.Message, Does.Contain("model.safetensors").And.Contain("vision_proj.weight").And.Contain("I32").And.Contain("F32"));
        Assert.That(e.Report.Mismatched.Select(m => m.Key), Is.EqualTo(new[] { "vision_proj.weight" }));
    }

    private static void AssertShareMemory(Tensor alias, Tensor owner, string what)
    {
        using var noGrad = no_grad();
        var saved = owner.flatten()[0].clone();
        owner.flatten()[0].fill_(7.0);
        Assert.That(alias.flatten()[0].to(ScalarType.Float32).item<float>(), Is.EqualTo(7f), $"{what} is still tied after the dtype change");
        owner.flatten()[0].copy_(saved);
    }

    [Test]
    public void Memory_mapped_and_owned_weights_give_the_same_logits()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures();
        using var mapped = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true);
        var logits = mapped.Forward(fixtures.Get("pixel_values"), fixtures.Get("captioning.decoder_input_ids"), fixtures.Get("captioning.attention_mask"));
        TensorAssert.AllClose(fixtures.Get("captioning.logits"), logits, 1e-4, what: "logits with memory-mapped weights");
    }

    [Test]
    public void Loading_a_checkpoint_into_memory_mapped_weights_replaces_every_tensor()
    {
        // Regression: views of one mapped storage were once taken for tied tensors (same "address") and loaded once.
        using var scope = NewDisposeScope();
        using var dir = TestPaths.NewTempDir();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true);
        var path = Path.Combine(dir.Path, "model.safetensors");
        var weights = model.state_dict().Where(kv => !PretrainedLoader.TiedAliases(model).Contains(kv.Key)).ToList();
        SafeTensorsWriter.Save(path, weights.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value + 1)));
        using (var reader = CheckpointReader.OpenFile(path)) PretrainedLoader.LoadWeights(model, reader);
        using var file = SafeTensorsFile.Open(path);
        var state = model.state_dict();
        var stale = file.Tensors.Keys.Where(k => !state[k].eq(file.Load(k)).all().item<bool>()).ToList();
        Assert.That(stale, Is.Empty, "tensors not replaced by the checkpoint");
    }
}
