// transformers' from_pretrained loads a fine-tuned, exported folder with no missing or unexpected keys and generates
// the same greedy tokens as Blip.Engine (runs the Python reference: tools/reference/make_training_fixtures.py).
using System.Diagnostics;
using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

[Category("Reference")]
public sealed class ExportReferenceTests
{
    [Test]
    public void Transformers_loads_the_export_strictly_and_generates_the_same_tokens()
    {
        using var dir = TestPaths.NewTempDir();
        string source = TinyFixtures.ModelFolder("captioning");
        string images = TestPaths.Fixture("tiny", "images");
        string data = Path.Combine(dir.Path, "train.jsonl");
        File.WriteAllLines(data, [$"{{\"image\": \"{Path.Combine(images, "rgb.png")}\", \"caption\": \"a dog running\"}}",
                                  $"{{\"image\": \"{Path.Combine(images, "gray.jpg")}\", \"caption\": \"a photography of a cafe\"}}"]);
        using var model = BlipForConditionalGeneration.FromPretrained(source);
        using var tokenizer = BlipTokenizer.Load(source);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(source));
        var options = new TrainingOptions { Epochs = 2, BatchSize = 2, LearningRate = 1e-3, Seed = 3 };
        new CaptionTrainer(model, tokenizer, processor, options).Train(CaptionDataset.LoadJsonl(data), Path.Combine(dir.Path, "run"));
        string export = Path.Combine(dir.Path, "export");
        HubExport.Save(model, source, export);

        string image = Path.Combine(images, "rgb.png");
        using var reloaded = BlipForConditionalGeneration.FromPretrained(export);
        using var pixels = new BlipImageProcessor(ImageProcessorConfig.Load(export)).Preprocess([image]);
        using var generated = reloaded.Generate(pixels, options: Blip.Engine.Generation.GenerationOptions.Default with { MaxLength = 10 });
        long[] ours = generated.Tokens[0];

        var report = CheckExport(export, image);
        long[] theirs = report.GetProperty("ids").EnumerateArray().Select(x => x.GetInt64()).ToArray();
        TestContext.Out.WriteLine($"transformers {string.Join(",", theirs)}; Blip.Engine {string.Join(",", ours)}");
        Assert.That(ours, Is.EqualTo(theirs));
    }

    [Test]
    public void Transformers_loads_a_float32_export_of_a_float16_folder_in_float32()
    {
        using var source = ExportDtypeTests.Float16Folder();
        using var export = TestPaths.NewTempDir();
        string image = Path.Combine(TestPaths.Fixture("tiny", "images"), "rgb.png");
        using (var model = BlipForConditionalGeneration.FromPretrained(source.Path, dtype: ScalarType.Float32))
            HubExport.Save(model, source.Path, export.Path);

        var report = CheckExport(export.Path, image);

        Assert.That(report.GetProperty("dtype").GetString(), Is.EqualTo("torch.float32"), "the dtype transformers loaded the export in");
        using var reloaded = BlipForConditionalGeneration.FromPretrained(export.Path);
        using var pixels = new BlipImageProcessor(ImageProcessorConfig.Load(export.Path)).Preprocess([image]);
        using var generated = reloaded.Generate(pixels, options: Blip.Engine.Generation.GenerationOptions.Default with { MaxLength = 10 });
        Assert.That(generated.Tokens[0], Is.EqualTo(report.GetProperty("ids").EnumerateArray().Select(x => x.GetInt64()).ToArray()));
    }

    // make_training_fixtures.py --check-export: transformers' from_pretrained on the folder, strictly (no missing,
    // unexpected or mis-shaped keys); returns its report (loading_info, greedy ids of the image, dtype).
    private static JsonElement CheckExport(string export, string image)
    {
        using var python = Process.Start(new ProcessStartInfo(Path.Combine(TestPaths.RepoRoot, "tools", "reference", "py"))
        {
            WorkingDirectory = TestPaths.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList = { "tools/reference/make_training_fixtures.py", "--check-export", export, "--image", image, "--max-length", "10" },
        })!;
        string stdout = python.StandardOutput.ReadToEnd(), stderr = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.That(python.ExitCode, Is.Zero, stderr);
        var report = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement.Clone();
        var info = report.GetProperty("loading_info");
        foreach (var key in new[] { "missing_keys", "unexpected_keys", "mismatched_keys" })
            Assert.That(info.GetProperty(key).GetArrayLength(), Is.Zero, $"{key}: {info.GetProperty(key)}");
        return report;
    }
}
