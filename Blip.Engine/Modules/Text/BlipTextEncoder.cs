// transformers' BlipTextEncoder: the stack of text layers ("layer.N").
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Runs every <see cref="BlipTextLayer"/> in turn.</summary>
public sealed class BlipTextEncoder : nn.Module
{
    private readonly ModuleList<BlipTextLayer> layer;

    /// <summary>Creates <c>num_hidden_layers</c> layers.</summary>
    public BlipTextEncoder(BlipTextConfig config) : base(nameof(BlipTextEncoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        layer = new ModuleList<BlipTextLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++) layer.Add(new BlipTextLayer(config));
        RegisterComponents();
    }

    /// <summary>Runs all layers; <paramref name="cache"/>, when given, has one entry per layer.</summary>
    public Tensor Forward(Tensor hidden, Tensor? selfMask, Tensor? encoderStates, Tensor? encoderMask, TextDecoderCache? cache)
    {
        if (cache is not null && cache.Layers.Count != layer.Count)
            throw new ArgumentException($"cache has {cache.Layers.Count} layers, the model {layer.Count}", nameof(cache));
        using var scope = NewDisposeScope();
        for (int i = 0; i < layer.Count; i++)
            hidden = layer[i].Forward(hidden, selfMask, encoderStates, encoderMask, cache?.Layers[i]);
        return hidden.MoveToOuterDisposeScope();
    }
}
