// transformers' BlipEncoder: the stack of vision encoder layers ("layers.N").
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>Runs every <see cref="BlipEncoderLayer"/> in turn, <c>[B,S,C] → [B,S,C]</c>.</summary>
public sealed class BlipEncoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<BlipEncoderLayer> layers;

    /// <summary>Creates <c>num_hidden_layers</c> layers.</summary>
    public BlipEncoder(BlipVisionConfig config) : base(nameof(BlipEncoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        layers = new ModuleList<BlipEncoderLayer>();
        for (int i = 0; i < config.NumHiddenLayers; i++) layers.Add(new BlipEncoderLayer(config));
        RegisterComponents();
    }

    /// <summary>The layers, in order.</summary>
    public ModuleList<BlipEncoderLayer> Layers => layers;

    /// <summary>Runs one layer in <see cref="forward"/>; null calls the layer directly. Training sets it to recompute
    /// layers in the backward pass (gradient checkpointing).</summary>
    public Func<BlipEncoderLayer, Tensor, Tensor>? LayerRunner { get; set; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        var hidden = hiddenStates;
        foreach (var layer in layers) hidden = LayerRunner is { } run ? run(layer, hidden) : layer.forward(hidden);
        return hidden.MoveToOuterDisposeScope();
    }
}
