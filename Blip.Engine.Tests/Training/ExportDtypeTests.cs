// The export's config.json names the dtype of the weights it holds (float32), whatever the source folder said.
using System.Text.Json.Nodes;
using Blip.Engine.Checkpoints;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class ExportDtypeTests
{
    /// <summary>The tiny captioning folder saved in float16, its config saying so as save_pretrained writes it (top-level
    /// "dtype"), plus the older "torch_dtype" at <paramref name="legacyKeyAt"/> ("" for the top level) when given.</summary>
    internal static TempDir Float16Folder(string? legacyKeyAt = null)
    {
        var dir = TestPaths.NewTempDir();
        TestPaths.CopyFiles(TinyFixtures.ModelFolder("captioning"), dir.Path);
        string weights = Path.Combine(dir.Path, "model.safetensors");
        List<KeyValuePair<string, Tensor>> tensors;
        using (var file = SafeTensorsFile.Open(weights))
            tensors = file.Tensors.Keys.Select(k => new KeyValuePair<string, Tensor>(k, file.Load(k, ScalarType.Float16))).ToList();
        SafeTensorsWriter.Save(weights, tensors);
        tensors.ForEach(t => t.Value.Dispose());
        string configPath = Path.Combine(dir.Path, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["dtype"] = "float16";
        if (legacyKeyAt is not null)
            (legacyKeyAt.Length == 0 ? config : config[legacyKeyAt]!.AsObject())["torch_dtype"] = "float16";
        File.WriteAllText(configPath, config.ToJsonString());
        return dir;
    }

    private static IEnumerable<string?> Levels(JsonObject config, string key) =>
        new[] { config, config["text_config"]!.AsObject(), config["vision_config"]!.AsObject() }.Select(o => o[key]?.GetValue<string>());

    [TestCase(null)]
    [TestCase("")]
    [TestCase("text_config")]
    public void A_float32_export_of_a_float16_folder_says_float32_and_reloads_as_trained(string? legacyKeyAt)
    {
        using var scope = NewDisposeScope();
        using var source = Float16Folder(legacyKeyAt);
        using var export = TestPaths.NewTempDir();
        using var model = BlipForConditionalGeneration.FromPretrained(source.Path, dtype: ScalarType.Float32, memoryMap: false);
        using (no_grad())
            foreach (var (_, p) in ModelParameters.Trainable(model, ModelParts.None))
                p.add_(randn_like(p) * 1e-3); // stands in for fine-tuning: float32 values float16 cannot hold

        HubExport.Save(model, source.Path, export.Path);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(export.Path, "config.json")))!.AsObject();
        Assert.That(config["dtype"]?.GetValue<string>(), Is.EqualTo("float32"));
        Assert.That(Levels(config, "torch_dtype"), Has.All.Null, "the older key, which 'dtype' overrides, is gone");
        Assert.That(Levels(config, "dtype").Skip(1), Has.All.Null.Or.EqualTo("float32"));
        using var reloaded = BlipForConditionalGeneration.FromPretrained(export.Path);
        var expected = ModelParameters.StateDict(model).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (name, tensor) in ModelParameters.StateDict(reloaded))
        {
            Assert.That(tensor.dtype, Is.EqualTo(ScalarType.Float32), name);
            TensorAssert.AllClose(expected[name], tensor, 0, what: $"{name} reloaded from the export");
        }
    }
}
