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
    /// <summary>The keys of <paramref name="model"/> that are another key's tensor, as transformers ties them: a tied
    /// LM head's decoder weight (the word embeddings; transformers 5 omits it from its files, older Hub files hold it)
    /// and bias (<c>cls.predictions.bias</c>). An untied head's (<c>tie_word_embeddings</c> false) are its own.</summary>
    internal static HashSet<string> TiedAliases(nn.Module model)
    {
        var aliases = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not Modules.Text.BlipTextLMDecoder decoder) continue;
            string prefix = name.Length == 0 ? "" : name + ".";
            if (decoder.WeightTied) aliases.Add(prefix + "weight");
            if (decoder.BiasTied) aliases.Add(prefix + "bias");
        }
        return aliases;
    }

    /// <summary>Non-persistent buffers that some files carry and the modules do not need.</summary>
    internal static bool IsPositionIdsBuffer(string key) => key.EndsWith(".position_ids", StringComparison.Ordinal);

    /// <summary>Reads the folder's config, builds the model with <paramref name="create"/>, loads every weight.</summary>
    internal static T Load<T>(string folder, Func<BlipConfig, T> create, Device? device, ScalarType? dtype, bool memoryMap) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"model folder not found: {folder}");
        string configPath = Path.Combine(folder, "config.json");
        var config = BlipConfig.Load(configPath);
        using var reader = CheckpointReader.OpenFolder(folder);
        CheckLayerCounts(config, configPath, reader);
        CheckCrossAttention(config, configPath, reader);
        var type = dtype ?? AutoDtype(config, configPath, reader);
        // Built on the meta device, then given the file's tensors: no random init, no copy (see WeightMaterializer).
        var model = WeightMaterializer.CreateOnMeta(() => create(config));
        try
        {
            var aliases = TiedAliases(model);
            CheckUntiedHead(model, aliases, configPath, reader);
            WeightMaterializer.Materialize(model, reader, type, aliases.Contains, IsPositionIdsBuffer, memoryMap);
            model.to(type);
            if (device is not null) model.to(device);
            model.eval();
            return model;
        }
        catch (StateDictMismatchException e) when (OtherTask(config, typeof(T)) is { } hint)
        {
            model.Dispose();
            throw new StateDictMismatchException(e.FilePath, e.Report, $"{configPath} names {hint}");
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    // The task classes, each with what opens it.
    private static readonly (string Class, string OpenWith)[] Tasks =
    [
        ("BlipForConditionalGeneration", "BlipCaptioner, blip caption"),
        ("BlipForImageTextRetrieval", "BlipMatcher, blip match / rank"),
        ("BlipForQuestionAnswering", "BlipQuestionAnswerer, blip vqa"),
    ];

    /// <summary>When the config's <c>architectures</c> names another BLIP task than <paramref name="model"/>'s (a
    /// retrieval checkpoint opened for captioning), what it names and what opens it; else null.</summary>
    private static string? OtherTask(BlipConfig config, Type model)
    {
        if (config.Architectures.Contains(model.Name)) return null;
        foreach (var (name, openWith) in Tasks)
            if (config.Architectures.Contains(name))
                return $"architectures [{name}], a checkpoint for {name} ({openWith}), not for {model.Name}";
        return null;
    }

    /// <summary>transformers 5's <c>dtype="auto"</c>, its default: the config's <c>dtype</c> (or <c>torch_dtype</c>),
    /// else the dtype of the checkpoint's first floating-point tensor, else float32. Every floating weight takes it.</summary>
    /// <exception cref="ConfigException">The config names a dtype that is no floating-point torch dtype.</exception>
    internal static ScalarType AutoDtype(BlipConfig config, string configPath, CheckpointReader reader)
    {
        var (field, declared) = config.Dtype is { } d ? ("dtype", d) : ("torch_dtype", config.TorchDtype);
        if (declared is not null)
        {
            return declared switch
            {
                "float32" or "float" => ScalarType.Float32,
                "float16" or "half" => ScalarType.Float16,
                "bfloat16" => ScalarType.BFloat16,
                "float64" or "double" => ScalarType.Float64,
                _ => throw new ConfigException(configPath, field, $"'{declared}' is not a floating-point torch dtype (float32, float16, bfloat16, float64)"),
            };
        }
        foreach (var name in reader.Names)
            if (reader.Info(name).DType is var stored && is_floating_point(stored)) return stored;
        return ScalarType.Float32;
    }

    // The layer stacks of the task models by checkpoint prefix, and whether the vision config sizes them.
    private static readonly (string Prefix, bool Vision)[] LayerStacks =
        [("vision_model.encoder.layers.", true), ("text_encoder.encoder.layer.", false), ("text_decoder.bert.encoder.layer.", false)];

    /// <summary>Compares each layer stack the checkpoint holds with the config before any module is built, so that a
    /// config of many layers fails at once instead of after building them all.</summary>
    /// <exception cref="ConfigException">The config's <c>num_hidden_layers</c> differs from the checkpoint's count.</exception>
    internal static void CheckLayerCounts(BlipConfig config, string configPath, CheckpointReader reader)
    {
        foreach (var (prefix, vision) in LayerStacks)
        {
            long count = reader.Names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
                .Select(n => LayerIndex(n, prefix.Length) + 1L).DefaultIfEmpty(0).Max();
            int configured = vision ? config.VisionConfig.NumHiddenLayers : config.TextConfig.NumHiddenLayers;
            if (count == 0 || count == configured) continue;
            throw new ConfigException(configPath, vision ? "vision_config.num_hidden_layers" : "text_config.num_hidden_layers",
                $"{configured} layers, but the checkpoint {reader.Path} holds {count} ({prefix}0 to {prefix}{count - 1})");
        }
    }

    /// <summary>With <c>is_decoder</c> false the text layers have no cross-attention; a checkpoint that holds its
    /// weights was saved from a model with it. transformers drops them (with a warning) and then fails at the first
    /// forward that passes the image (only ITC runs); Blip.Engine refuses the folder.</summary>
    /// <exception cref="ConfigException">The config says no cross-attention and the checkpoint holds some.</exception>
    internal static void CheckCrossAttention(BlipConfig config, string configPath, CheckpointReader reader)
    {
        if (config.TextConfig.HasCrossAttention) return;
        var cross = reader.Names.Where(n => n.Contains(".crossattention.", StringComparison.Ordinal)).ToList();
        if (cross.Count > 0)
            throw new ConfigException(configPath, "text_config.is_decoder",
                $"is false, so the text layers have no cross-attention, but {reader.Path} holds {cross.Count} cross-attention weights ({cross[0]}, ...); " +
                "transformers would drop them and fail at every forward that reads the image");
    }

    // An untied LM head (tie_word_embeddings false at both levels) has a weight and bias of its own, which the file
    // must hold (transformers would draw them at random, with a warning).
    private static void CheckUntiedHead(nn.Module model, HashSet<string> aliases, string configPath, CheckpointReader reader)
    {
        var absent = model.state_dict().Keys
            .Where(k => k.Contains("cls.predictions.decoder.", StringComparison.Ordinal) && !aliases.Contains(k) && !reader.Contains(k))
            .ToList();
        if (absent.Count > 0)
            throw new ConfigException(configPath, "tie_word_embeddings",
                $"is false (and text_config.tie_word_embeddings too), so the LM head is not the word embeddings, but {reader.Path} holds no {string.Join(", ", absent)}");
    }

    // The N of "prefix.N.rest"; -1 (not a layer) when it is no number.
    private static int LayerIndex(string name, int start)
    {
        int dot = name.IndexOf('.', start);
        var digits = name.AsSpan(start, (dot < 0 ? name.Length : dot) - start);
        return int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) ? i : -1;
    }

    /// <summary>Copies every tensor of <paramref name="reader"/> into <paramref name="model"/>, strictly.</summary>
    internal static void LoadWeights(nn.Module model, CheckpointReader reader)
    {
        using var noGrad = no_grad();
        StateDictLoader.Load(model, reader, new StateDictLoadOptions
        {
            MayBeAbsentFromFile = TiedAliases(model).Contains,
            MayBeExtraInFile = IsPositionIdsBuffer,
        });
    }
}
