// transformers' BlipTextLayer: self-attention, optional cross-attention, feed-forward; post-LN BERT.
using Blip.Engine.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>One BERT layer, <c>[B,T,C] → [B,T,C]</c>.</summary>
public sealed class BlipTextLayer : nn.Module
{
    private readonly BlipTextAttention attention;
    private readonly BlipTextAttention? crossattention;
    private readonly BlipTextIntermediate intermediate;
    private readonly BlipTextOutput output;

    /// <summary>Creates the layer; cross-attention exists when <see cref="BlipTextConfig.HasCrossAttention"/>.</summary>
    public BlipTextLayer(BlipTextConfig config) : base(nameof(BlipTextLayer))
    {
        ArgumentNullException.ThrowIfNull(config);
        attention = new BlipTextAttention(config, isCrossAttention: false);
        if (config.HasCrossAttention) crossattention = new BlipTextAttention(config, isCrossAttention: true);
        intermediate = new BlipTextIntermediate(config);
        output = new BlipTextOutput(config);
        RegisterComponents();
    }

    /// <summary>Runs the layer. Cross-attention runs when <paramref name="encoderStates"/> is given or the cache
    /// already holds the image K/V, as transformers runs it when encoder states are passed.</summary>
    public Tensor Forward(Tensor hidden, Tensor? selfMask, Tensor? encoderStates, Tensor? encoderMask, TextLayerCache? cache)
    {
        using var scope = NewDisposeScope();
        var attended = attention.SelfAttend(hidden, selfMask, cache?.Self);
        if (encoderStates is not null || cache is { Cross.IsSet: true })
        {
            if (crossattention is null)
                throw new InvalidOperationException("encoder states were passed to a text layer without cross-attention (text_config.is_decoder is false)");
            attended = crossattention.CrossAttend(attended, encoderStates, encoderMask, cache?.Cross);
        }
        return output.forward(intermediate.forward(attended), attended).MoveToOuterDisposeScope();
    }
}
