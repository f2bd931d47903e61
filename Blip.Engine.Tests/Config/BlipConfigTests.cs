using Blip.Engine.Config;

namespace Blip.Engine.Tests.Config;

public class BlipConfigTests
{
    private const string Large = """
        {"architectures": ["BlipForConditionalGeneration"], "image_text_hidden_size": 256,
         "text_config": {"vocab_size": 30524, "hidden_size": 768, "encoder_hidden_size": 768, "num_attention_heads": 12,
                         "num_hidden_layers": 12, "intermediate_size": 3072, "eos_token_id": [2, 102]},
         "vision_config": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                           "intermediate_size": 4096, "image_size": 384, "patch_size": 16}}
        """;

    [Test]
    public void Reads_every_field_and_sets_encoder_width_from_vision_as_transformers_does()
    {
        var config = BlipConfig.Parse(Large);
        Assert.Multiple(() =>
        {
            Assert.That(config.VisionConfig.HiddenSize, Is.EqualTo(1024));
            Assert.That(config.VisionConfig.NumPositions, Is.EqualTo(577));
            Assert.That(config.TextConfig.EncoderHiddenSize, Is.EqualTo(1024), "BlipConfig.__post_init__ overwrites it");
            Assert.That(config.TextConfig.NumAttentionHeads, Is.EqualTo(12));
            Assert.That(config.TextConfig.EosTokenId, Is.EqualTo(new[] { 2, 102 }));
            Assert.That(config.TextConfig.HasCrossAttention, Is.True);
            Assert.That(config.Architectures, Is.EqualTo(new[] { "BlipForConditionalGeneration" }));
        });
    }

    [Test]
    public void Missing_halves_take_transformers_defaults()
    {
        var config = BlipConfig.Parse("{}");
        Assert.Multiple(() =>
        {
            Assert.That(config.TextConfig.VocabSize, Is.EqualTo(30524));
            Assert.That(config.TextConfig.NumAttentionHeads, Is.EqualTo(8));
            Assert.That(config.TextConfig.LayerNormEps, Is.EqualTo(1e-12));
            Assert.That(config.VisionConfig.LayerNormEps, Is.EqualTo(1e-5));
            Assert.That(config.TextConfig.PadTokenId, Is.EqualTo(0));
            Assert.That(config.TextConfig.BosTokenId, Is.EqualTo(30522));
            Assert.That(config.TextConfig.SepTokenId, Is.EqualTo(102));
        });
    }

    [TestCase("""{"vision_config": {"hidden_size": 100, "num_attention_heads": 16}}""", "vision_config.num_attention_heads")]
    [TestCase("""{"vision_config": {"image_size": 380, "patch_size": 16}}""", "vision_config.patch_size")]
    [TestCase("""{"vision_config": {"hidden_size": 0}}""", "vision_config.hidden_size")]
    [TestCase("""{"text_config": {"hidden_size": 770, "num_attention_heads": 12}}""", "text_config.num_attention_heads")]
    [TestCase("""{"text_config": {"hidden_act": "swishy"}}""", "text_config.hidden_act")]     // not an ACT2FN name
    [TestCase("""{"text_config": {"vocab_size": 100, "pad_token_id": 100}}""", "text_config.pad_token_id")]   // outside [-V, V), as nn.Embedding's padding_idx
    [TestCase("""{"text_config": {"num_hidden_layers": -1}}""", "text_config.num_hidden_layers")]
    [TestCase("""{"image_text_hidden_size": 0}""", "image_text_hidden_size")]
    [TestCase("""{"vision_config": {"image_size": [384, 200]}}""", "image_size")]
    [TestCase("""{"text_config": {"hidden_size": "big"}}""", "hidden_size")]
    [TestCase("""{"text_config": {"hidden_dropout_prob": -1}}""", "text_config.hidden_dropout_prob")]     // libtorch refused it at the first forward
    [TestCase("""{"text_config": {"attention_probs_dropout_prob": 1.5}}""", "text_config.attention_probs_dropout_prob")]
    [TestCase("""{"vision_config": {"attention_dropout": 2.0}}""", "vision_config.attention_dropout")]
    public void Invalid_fields_are_named(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => BlipConfig.Parse(json, "some/config.json"));
        Assert.That(e!.Message, Does.Contain("some/config.json").And.Contain(field));
    }

    // Each would make the loader build (or a caller allocate) a network of absurd size before any weight is read.
    [TestCase("""{"text_config": {"num_hidden_layers": 100000}}""", "text_config.num_hidden_layers", 100000)]
    [TestCase("""{"vision_config": {"num_hidden_layers": 100000}}""", "vision_config.num_hidden_layers", 100000)]
    [TestCase("""{"vision_config": {"hidden_size": 1073741824, "num_attention_heads": 16}}""", "vision_config.hidden_size", 1073741824)]
    [TestCase("""{"vision_config": {"intermediate_size": 2000000000}}""", "vision_config.intermediate_size", 2000000000)]
    [TestCase("""{"text_config": {"hidden_size": 1073741824, "num_attention_heads": 8}}""", "text_config.hidden_size", 1073741824)]
    [TestCase("""{"text_config": {"intermediate_size": 2000000000}}""", "text_config.intermediate_size", 2000000000)]
    [TestCase("""{"text_config": {"vocab_size": 2000000000}}""", "text_config.vocab_size", 2000000000)]
    [TestCase("""{"text_config": {"max_position_embeddings": 1000000000}}""", "text_config.max_position_embeddings", 1000000000)]
    [TestCase("""{"image_text_hidden_size": 1073741824}""", "image_text_hidden_size", 1073741824)]
    public void Absurd_sizes_are_refused_with_the_bound(string json, string field, int value)
    {
        var e = Assert.Throws<ConfigException>(() => BlipConfig.Parse(json, "some/config.json"));
        Assert.That(e!.Field, Is.EqualTo(field));
        Assert.That(e.Message, Does.Contain("some/config.json").And.Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture)).And.Contain("at most"));
    }

    // (1048576 / 16)² = 2³² patches wrapped to 0 in int arithmetic; a huge patch makes a huge patch-embedding kernel.
    [TestCase(1048576, 16)]
    [TestCase(65536, 1)]
    [TestCase(4194304, 4194304)]
    public void Image_sizes_beyond_the_patch_bounds_name_image_size_and_patch_size(int imageSize, int patchSize)
    {
        string json = $$$"""{"vision_config": {"image_size": {{{imageSize}}}, "patch_size": {{{patchSize}}}}}""";
        var e = Assert.Throws<ConfigException>(() => BlipConfig.Parse(json, "some/config.json"));
        Assert.That(e!.Field, Does.StartWith("vision_config."));
        Assert.That(e.Message, Does.Contain("some/config.json").And.Contain("image_size").And.Contain("patch_size")
            .And.Contain(imageSize.ToString(System.Globalization.CultureInfo.InvariantCulture)).And.Contain("at most"));
    }

    [Test]
    public void Patch_counts_are_computed_without_overflow()
    {
        var vision = new BlipVisionConfig { ImageSize = 1048576, PatchSize = 16 };
        Assert.Throws<OverflowException>(() => _ = vision.NumPatches, "2^32 patches must not wrap to 0");
        Assert.That(new BlipVisionConfig { ImageSize = 480, PatchSize = 16 }.NumPositions, Is.EqualTo(901));
    }

    [TestCase("""{"vision_config": {"patch_size": 0}}""", "vision_config.patch_size")]
    [TestCase("""{"vision_config": {"patch_size": -16}}""", "vision_config.patch_size")]
    [TestCase("""{"vision_config": {"image_size": -384}}""", "vision_config.image_size")]
    [TestCase("""{"vision_config": {"image_size": 8, "patch_size": 16}}""", "vision_config.patch_size")]
    public void Zero_negative_and_indivisible_image_sizes_are_named(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => BlipConfig.Parse(json, "some/config.json"));
        Assert.That(e!.Field, Is.EqualTo(field));
    }

    [Test]
    public void Bad_json_and_missing_file_name_the_file()
    {
        var bad = Assert.Throws<ConfigException>(() => BlipConfig.Parse("{\"text_config\": ", "x/config.json"));
        Assert.That(bad!.Message, Does.Contain("x/config.json"));
        var missing = Assert.Throws<ConfigException>(() => BlipConfig.Load("/nonexistent/folder/config.json"));
        Assert.That(missing!.Message, Does.Contain("/nonexistent/folder/config.json").And.Contain("not found"));
    }

    [Test]
    public void A_directory_named_config_json_is_named_as_a_directory()
    {
        string folder = Path.Combine(Path.GetTempPath(), "blip-config-dir-" + Guid.NewGuid().ToString("N"));
        string configDir = Path.Combine(folder, "config.json");
        Directory.CreateDirectory(configDir);
        try
        {
            foreach (var path in new[] { configDir, folder })
            {
                var e = Assert.Throws<ConfigException>(() => BlipConfig.Load(path));
                Assert.That(e!.Message, Does.Contain(configDir).And.Contain("is a directory"), path);
                Assert.That(e.Message, Does.Not.Contain(Path.Combine(configDir, "config.json")), path);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
