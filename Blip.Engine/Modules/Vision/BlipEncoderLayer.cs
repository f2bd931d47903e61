// transformers' BlipEncoderLayer: a pre-LN transformer block.
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>x + attn(ln1(x)), then + mlp(ln2(·)); <c>[B,S,C] → [B,S,C]</c>.</summary>
public sealed class BlipEncoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm layer_norm1;
    private readonly BlipAttention self_attn;
    private readonly LayerNorm layer_norm2;
    private readonly BlipMlp mlp;

    /// <summary>Creates the layer for <paramref name="config"/>.</summary>
    public BlipEncoderLayer(BlipVisionConfig config) : base(nameof(BlipEncoderLayer))
    {
        ArgumentNullException.ThrowIfNull(config);
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        self_attn = new BlipAttention(config);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new BlipMlp(config);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        var hidden = self_attn.forward(layer_norm1.forward(hiddenStates)) + hiddenStates;
        hidden = mlp.forward(layer_norm2.forward(hidden)) + hidden;
        return hidden.MoveToOuterDisposeScope();
    }
}
