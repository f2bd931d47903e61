// Builds a BLIP task model from a Hub-layout folder: config.json, then the safetensors weights by their
// transformers names, strictly, then the requested dtype/device.
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>Loads task models from model folders.</summary>
internal static class PretrainedLoader
{
    /// <summary>File keys that may be absent because transformers ties them to another key: the LM head's
    /// decoder weight (tied to the word embeddings; transformers 5 omits it, older Hub files hold it) and bias.</summary>
    internal static bool IsTiedAlias(string key) =>
        key.EndsWith("cls.predictions.decoder.weight", StringComparison.Ordinal) ||
        key.EndsWith("cls.predictions.decoder.bias", StringComparison.Ordinal);

    /// <summary>Non-persistent buffers that some files carry and the modules do not need.</summary>
    internal static bool IsPositionIdsBuffer(string key) => key.EndsWith(".position_ids", StringComparison.Ordinal);

    /// <summary>Reads the folder's config, builds the model with <paramref name="create"/>, loads every weight.</summary>
    internal static T Load<T>(string folder, Func<BlipConfig, T> create, Device? device, ScalarType? dtype, bool memoryMap) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"model folder not found: {folder}");
        var config = BlipConfig.Load(Path.Combine(folder, "config.json"));
        using var reader = CheckpointReader.OpenFolder(folder);
        // Built on the meta device, then given the file's tensors: no random init, no copy (see WeightMaterializer).
        var model = WeightMaterializer.CreateOnMeta(() => create(config));
        try
        {
            WeightMaterializer.Materialize(model, reader, dtype, IsTiedAlias, IsPositionIdsBuffer, memoryMap);
            if (dtype is { } type) model.to(type);
            if (device is not null) model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Copies every tensor of <paramref name="reader"/> into <paramref name="model"/>, strictly.</summary>
    internal static void LoadWeights(nn.Module model, CheckpointReader reader)
    {
        using var noGrad = no_grad();
        StateDictLoader.Load(model, reader, new StateDictLoadOptions
        {
            MayBeAbsentFromFile = IsTiedAlias,
            MayBeExtraInFile = IsPositionIdsBuffer,
        });
    }
}
