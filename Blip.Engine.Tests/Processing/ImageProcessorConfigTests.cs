using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class ImageProcessorConfigTests
{
    // What BlipProcessor.save_pretrained writes with transformers 5.12.1 (processor_config.json).
    private const string Nested = """
        {
          "image_processor": {
            "do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_processor_type": "BlipImageProcessor",
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "resample": 3, "rescale_factor": 0.00392156862745098,
            "size": {"height": 384, "width": 384}
          },
          "processor_class": "BlipProcessor"
        }
        """;

    [Test]
    public void Defaults_equal_transformers_BlipImageProcessor()
    {
        var d = ImageProcessorConfig.Default;
        Assert.Multiple(() =>
        {
            Assert.That((d.Height, d.Width, d.Resample), Is.EqualTo((384, 384, 3)));
            Assert.That((d.DoResize, d.DoRescale, d.DoNormalize, d.DoConvertRgb), Is.EqualTo((true, true, true, true)));
            Assert.That(d.RescaleFactor, Is.EqualTo(0.00392156862745098));
            Assert.That(d.ImageMean, Is.EqualTo(new[] { 0.48145466, 0.4578275, 0.40821073 }));
            Assert.That(d.ImageStd, Is.EqualTo(new[] { 0.26862954, 0.26130258, 0.27577711 }));
        });
    }

    [Test]
    public void Nested_processor_config_parses_to_the_defaults()
    {
        var c = ImageProcessorConfig.Parse(Nested);
        Assert.That(c with { ImageMean = [], ImageStd = [] }, Is.EqualTo(ImageProcessorConfig.Default with { ImageMean = [], ImageStd = [] }));
        Assert.That(c.ImageStd, Is.EqualTo(ImageProcessorConfig.Default.ImageStd));
    }

    [Test]
    public void Flat_preprocessor_config_with_integer_size_and_missing_keys()
    {
        var c = ImageProcessorConfig.Parse("""{"size": 224, "do_normalize": false, "image_mean": 0.5}""");
        Assert.That((c.Height, c.Width, c.DoNormalize, c.DoConvertRgb), Is.EqualTo((224, 224, false, true)));
        Assert.That(c.ImageMean, Is.EqualTo(new[] { 0.5, 0.5, 0.5 }));
    }

    [Test]
    public void Load_prefers_the_nested_processor_config_then_the_preprocessor_config()
    {
        var dir = Directory.CreateTempSubdirectory("blip-imgcfg-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, ImageProcessorConfig.PreprocessorFileName), """{"size": {"height": 100, "width": 200}}""");
            Assert.That(ImageProcessorConfig.Load(dir).Width, Is.EqualTo(200));
            File.WriteAllText(Path.Combine(dir, ImageProcessorConfig.ProcessorFileName), """{"processor_class": "BlipProcessor"}""");
            Assert.That(ImageProcessorConfig.Load(dir).Width, Is.EqualTo(200), "no nested image_processor: fall back");
            File.WriteAllText(Path.Combine(dir, ImageProcessorConfig.ProcessorFileName), Nested);
            Assert.That(ImageProcessorConfig.Load(dir).Width, Is.EqualTo(384));
            Assert.Throws<FileNotFoundException>(() => ImageProcessorConfig.Load(Path.Combine(dir, "nothing-here")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [TestCase("""{"resample": 2}""", "resample", "2")]
    [TestCase("""{"image_mean": [0.5, 0.5]}""", "image_mean", "3")]
    [TestCase("""{"image_std": [0.5, 0, 0.5]}""", "image_std", "non-zero")]
    [TestCase("""{"size": {"shortest_edge": 384}}""", "size", "shortest_edge")]
    [TestCase("""{"size": {"height": 0, "width": 4}}""", "size", "0x4")]
    [TestCase("""{"size": 100000}""", "size", "at most")]
    [TestCase("""{"do_resize": "yes"}""", "do_resize", "yes")]
    [TestCase("""{"rescale_factor": -1}""", "rescale_factor", "-1")]
    [TestCase("""{"image_std": [0.5, 1e-50, 0.5]}""", "image_std", "float32")]
    [TestCase("""{"image_mean": [1e39, 0.5, 0.5]}""", "image_mean", "float32")]
    [TestCase("""{"rescale_factor": 1e38}""", "rescale_factor", "float32")]
    public void Invalid_fields_are_named(string json, string field, string detail)
    {
        var e = Assert.Throws<ConfigException>(() => ImageProcessorConfig.Parse(json, "cfg.json"));
        Assert.That((e!.File, e.Field), Is.EqualTo(("cfg.json", field)));
        Assert.That(e.Message, Does.Contain("cfg.json").And.Contain($"'{field}'").And.Contain(detail));
    }

    [Test]
    public void Malformed_json_names_the_source() =>
        Assert.That(Assert.Throws<ConfigException>(() => ImageProcessorConfig.Parse("{", "x.json"))!.File, Is.EqualTo("x.json"));

    // Fixtures/images/config_cases.json (tools/reference/make_image_config_cases.py): what BlipImageProcessorPil made
    // of each preprocessor_config.json on one image, or the exception it raised.
    private static List<TestCaseData> ConfigCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(ImageFixtures.Folder, "config_cases.json")));
        string source = doc.RootElement.GetProperty("source").GetString()!;
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c =>
        {
            var t = c.GetProperty("transformers");
            string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.ToString() : null;
            long[]? shape = t.TryGetProperty("shape", out var dims) ? [.. dims.EnumerateArray().Select(d => d.GetInt64())] : null;
            return new TestCaseData(JsonSerializer.Serialize(c.GetProperty("config")), source, shape, Text(t, "sha256"),
                Text(t, "error") ?? Text(c, "engine_refuses"));
        }).ToList();
    }

    [TestCaseSource(nameof(ConfigCases))]
    public void Config_variants_give_what_transformers_gives(string json, string source, long[]? shape, string? sha256, string? refused)
    {
        if (refused is not null)
        {
            var e = Assert.Throws<ConfigException>(() => ImageProcessorConfig.Parse(json, "preprocessor_config.json"), $"transformers: {refused}");
            Assert.That(e!.Message, Does.Contain("preprocessor_config.json"));
            return;
        }

        var processor = new BlipImageProcessor(ImageProcessorConfig.Parse(json, "preprocessor_config.json"));
        using var pixels = processor.Preprocess([ImageFixtures.Source(source)]);
        Assert.That(pixels.shape, Is.EqualTo(shape));
        Assert.That(ImageFixtures.Sha256(pixels.data<float>().ToArray()), Is.EqualTo(sha256), "pixel_values differ from transformers'");
    }
}
