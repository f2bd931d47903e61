// transformers' BlipAttention: the vision encoder's multi-head self-attention with a fused qkv projection.
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>Bidirectional self-attention over image tokens, <c>[B,S,C] → [B,S,C]</c>.</summary>
public sealed class BlipAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear qkv;         // [3C,C]
    private readonly Linear projection;  // [C,C]
    private readonly int heads;
    private readonly int headDim;

    /// <summary>Creates the attention for <paramref name="config"/>'s width and head count.</summary>
    public BlipAttention(BlipVisionConfig config) : base(nameof(BlipAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        heads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        qkv = nn.Linear(config.HiddenSize, 3L * config.HiddenSize);
        projection = nn.Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        long batch = hiddenStates.shape[0], tokens = hiddenStates.shape[1];
        var mixed = qkv.forward(hiddenStates)
            .reshape(batch, tokens, 3, heads, headDim)                  // [B,S,3,H,D]
            .permute(2, 0, 3, 1, 4);                                    // [3,B,H,S,D]
        // SDPA's default scale is D^-0.5, the reference's scale; no mask, so it is the same arithmetic.
        var context = nn.functional.scaled_dot_product_attention(mixed[0], mixed[1], mixed[2]); // [B,H,S,D]
        context = context.transpose(1, 2).reshape(batch, tokens, heads * headDim);             // [B,S,C]
        return projection.forward(context).MoveToOuterDisposeScope();
    }
}
