// transformers' BlipTextAttention: attention ("self") followed by its output block ("output").
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>One attention sub-layer of the text model, self- or cross-attention, <c>[B,T,C] → [B,T,C]</c>.</summary>
public sealed class BlipTextAttention : nn.Module
{
    [ComponentName(Name = "self")]
    private readonly BlipTextSelfAttention self_;
    private readonly BlipTextSelfOutput output;

    /// <summary>Creates the sub-layer; <paramref name="isCrossAttention"/> widens keys/values to the encoder width.</summary>
    public BlipTextAttention(BlipTextConfig config, bool isCrossAttention) : base(nameof(BlipTextAttention))
    {
        self_ = new BlipTextSelfAttention(config, isCrossAttention);
        output = new BlipTextSelfOutput(config);
        RegisterComponents();
    }

    /// <summary>Self-attention; see <see cref="BlipTextSelfAttention.SelfAttend"/>.</summary>
    public Tensor SelfAttend(Tensor hidden, Tensor? mask, TextAttentionCache? cache)
    {
        using var scope = NewDisposeScope();
        return output.forward(self_.SelfAttend(hidden, mask, cache), hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-attention; see <see cref="BlipTextSelfAttention.CrossAttend"/>.</summary>
    public Tensor CrossAttend(Tensor hidden, Tensor? encoderStates, Tensor? mask, TextAttentionCache? cache)
    {
        using var scope = NewDisposeScope();
        return output.forward(self_.CrossAttend(hidden, encoderStates, mask, cache), hidden).MoveToOuterDisposeScope();
    }
}
