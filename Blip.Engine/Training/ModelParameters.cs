// Which parameters train, which get weight decay, and the weights a checkpoint holds.
using Blip.Engine.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Parameter selection for fine-tuning, by transformers' state_dict names.</summary>
public static class ModelParameters
{
    /// <summary>The part a parameter belongs to, from its name's first component.</summary>
    public static ModelParts PartOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.StartsWith("vision_model.", StringComparison.Ordinal)) return ModelParts.Vision;
        if (name.StartsWith("text_encoder.", StringComparison.Ordinal)) return ModelParts.TextEncoder;
        if (name.StartsWith("text_decoder.", StringComparison.Ordinal)) return ModelParts.Decoder;
        return ModelParts.None;
    }

    /// <summary>True for parameters that get no weight decay: biases and LayerNorm weights (the usual no-decay group).</summary>
    public static bool IsNoDecay(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.EndsWith(".bias", StringComparison.Ordinal) || name.EndsWith("predictions.bias", StringComparison.Ordinal) ||
               name.Contains("LayerNorm", StringComparison.Ordinal) || name.Contains("layer_norm", StringComparison.Ordinal) ||
               name.Contains("layernorm", StringComparison.Ordinal);
    }

    /// <summary>Freezes <paramref name="freeze"/> (requires_grad off) and returns every other parameter once, by name
    /// (a tied tensor once, under its owner's name), in the model's order.</summary>
    /// <exception cref="ArgumentException"><paramref name="freeze"/> names a part the model does not have (a captioning
    /// model has no text encoder, a retrieval model no decoder): freezing it would change nothing, silently.</exception>
    public static IReadOnlyList<(string Name, Parameter Parameter)> Trainable(nn.Module model, ModelParts freeze)
    {
        ArgumentNullException.ThrowIfNull(model);
        var present = model.named_parameters().Aggregate(ModelParts.None, (all, p) => all | PartOf(p.name));
        if ((freeze & ~present) is var absent and not ModelParts.None)
            throw new ArgumentException(
                $"cannot freeze {absent}: {model.GetType().Name} has no such part (its parts: {present})", nameof(freeze));
        var seen = new HashSet<IntPtr>();
        var aliases = PretrainedLoader.TiedAliases(model);
        var result = new List<(string, Parameter)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (aliases.Contains(name) || !seen.Add(p.Handle)) continue;
            bool frozen = (PartOf(name) & freeze) != 0;
            p.requires_grad = !frozen;
            if (!frozen) result.Add((name, p));
        }
        return result;
    }

    /// <summary>Refuses a model whose weights are not all on the CPU, naming the first that is not: the trainers
    /// load batches, keep checkpoints and export on the CPU (a model on a GPU would fail at its first batch, reported
    /// as that batch's failure).</summary>
    /// <exception cref="ArgumentException">A parameter or buffer is on another device.</exception>
    internal static void RequireCpu(nn.Module model, string paramName)
    {
        foreach (var (name, tensor) in model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(model.named_buffers()))
            if (tensor.device_type != DeviceType.CPU)
                throw new ArgumentException($"fine-tuning runs on the CPU, but {name} is on {tensor.device}: move the model to the CPU first (model.to(CPU))", paramName);
    }

    /// <summary>The model's weights by transformers' names, without the tied aliases (<c>cls.predictions.decoder.*</c>)
    /// that transformers 5 omits from its files; the tensors belong to the model.</summary>
    public static IReadOnlyList<KeyValuePair<string, Tensor>> StateDict(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var aliases = PretrainedLoader.TiedAliases(model);
        return model.state_dict()
            .Where(kv => !aliases.Contains(kv.Key) && !PretrainedLoader.IsPositionIdsBuffer(kv.Key))
            .ToList();
    }

    /// <summary>Sets the rate of every dropout module of the model (the text model's; the vision model has none).</summary>
    public static void SetDropout(nn.Module model, double rate)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var module in model.modules())
            if (module is Dropout dropout) dropout.p = rate;
    }

    /// <summary>Re-draws every parameter as transformers' <c>_init_weights</c> does for a fresh model: LayerNorm weights 1,
    /// biases 0, everything else N(0, <paramref name="std"/>) from torch's default generator (seed it first).</summary>
    public static void InitializeRandom(nn.Module model, double std = 0.02)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var noGrad = no_grad();
        var aliases = PretrainedLoader.TiedAliases(model);
        foreach (var (name, p) in model.named_parameters())
        {
            if (aliases.Contains(name)) continue;
            bool norm = name.Contains("LayerNorm", StringComparison.Ordinal) || name.Contains("layer_norm", StringComparison.Ordinal) ||
                        name.Contains("layernorm", StringComparison.Ordinal);
            if (norm && name.EndsWith(".weight", StringComparison.Ordinal)) p.fill_(1);
            else if (name.EndsWith("bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, std);
        }
    }

    /// <summary>AdamW over <paramref name="trainable"/> in two groups: weight decay, and none for biases and LayerNorm.</summary>
    /// <param name="trainable">Named model parameters (from <see cref="Trainable"/>).</param>
    /// <param name="options">Rates, betas, ε and weight decay.</param>
    /// <param name="extraNoDecay">Trainable tensors outside the model (e.g. the ITC temperature), never decayed.</param>
    public static AdamW CreateOptimizer(IReadOnlyList<(string Name, Parameter Parameter)> trainable, TrainingOptions options,
        IReadOnlyList<Parameter>? extraNoDecay = null)
    {
        ArgumentNullException.ThrowIfNull(trainable);
        ArgumentNullException.ThrowIfNull(options);
        var decay = trainable.Where(x => !IsNoDecay(x.Name)).Select(x => x.Parameter).ToList();
        var noDecay = trainable.Where(x => IsNoDecay(x.Name)).Select(x => x.Parameter).Concat(extraNoDecay ?? []).ToList();
        if (decay.Count + noDecay.Count == 0) throw new ArgumentException("every parameter is frozen: nothing to train", nameof(trainable));
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay, false, false),
            new(noDecay, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, 0.0, false, false),
        };
        return optim.AdamW(groups, options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
    }
}
