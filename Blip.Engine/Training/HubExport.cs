// Writes a fine-tuned model as a Hub-layout folder that transformers' from_pretrained loads.
using System.Text.Json.Nodes;
using Blip.Engine.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Exports a model folder: the source folder's config, processor and tokenizer files, and the weights as
/// <c>model.safetensors</c> under transformers' names (float32, tied aliases omitted as transformers 5 does), with
/// config.json's dtype set to float32 to match them.</summary>
public static class HubExport
{
    /// <summary>The files copied from the source model folder when present.</summary>
    public static IReadOnlyList<string> CopiedFiles { get; } =
    [
        "config.json", "generation_config.json", "processor_config.json", "preprocessor_config.json",
        "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
    ];

    /// <summary>Writes <paramref name="model"/> and <paramref name="sourceFolder"/>'s other files into
    /// <paramref name="outputFolder"/> (created; existing files with these names are replaced).</summary>
    public static void Save(nn.Module model, string sourceFolder, string outputFolder)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sourceFolder);
        ArgumentNullException.ThrowIfNull(outputFolder);
        if (!File.Exists(Path.Combine(sourceFolder, "config.json")))
            throw new FileNotFoundException($"source model folder has no config.json: {sourceFolder}", Path.Combine(sourceFolder, "config.json"));
        Directory.CreateDirectory(outputFolder);
        foreach (var name in CopiedFiles)
        {
            string from = Path.Combine(sourceFolder, name);
            if (File.Exists(from) && Path.GetFullPath(from) != Path.GetFullPath(Path.Combine(outputFolder, name)))
                File.Copy(from, Path.Combine(outputFolder, name), overwrite: true);
        }
        WriteFloat32Dtype(Path.Combine(outputFolder, "config.json"));
        using var scope = NewDisposeScope();
        var weights = ModelParameters.StateDict(model)
            .Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().to(ScalarType.Float32, CPU)))
            .ToList();
        SafeTensorsWriter.Save(Path.Combine(outputFolder, "model.safetensors"), weights);
    }

    // The weights are written in float32, so config.json says so, as save_pretrained writes the dtype it saved: a
    // float16 source's "dtype": "float16" made transformers and FromPretrained reload the fine-tuned float32 weights in
    // float16. Every level that names a dtype (the top, text_config, vision_config) gets "dtype": "float32", and the
    // older "torch_dtype" (which "dtype" overrides in transformers 5) is dropped.
    private static void WriteFloat32Dtype(string configPath)
    {
        var root = Blip.Engine.Processing.TokenizerSettings.ReadObject(configPath);
        var levels = root.Select(kv => kv.Value).OfType<JsonObject>().Where(o => o.ContainsKey("dtype") || o.ContainsKey("torch_dtype")).Prepend(root);
        bool stale = false;
        foreach (var level in levels.ToList())
        {
            stale |= level.Remove("torch_dtype") | !(level["dtype"] is JsonValue v && v.TryGetValue(out string? d) && d == "float32");
            level["dtype"] = "float32";
        }
        if (stale) // a float32 source's config.json stays byte for byte as it was
            File.WriteAllText(configPath, root.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
