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
        var mixed = PackedRowGroups.Run(qkv, hiddenStates, rows => PackedRowGroups.GroupLinear(qkv, rows))
            .reshape(batch, tokens, 3, heads, headDim);                 // [B,S,3,H,D]
        // The hand-written kernel where it applies (CPU float32 inference with AVX-512; bfloat16 widened off Intel),
        // else SDPA. Not in training mode: gradient checkpointing runs the forward without autograd and recomputes it
        // with autograd, and both passes must be the same arithmetic.
        var context = training ? null : SelfAttentionKernel.TryForward(mixed, heads, headDim);  // [B,S,C]
        if (context is null)
        {
            var perHead = mixed.permute(2, 0, 3, 1, 4);                                         // [3,B,H,S,D]
            // SDPA's default scale is D^-0.5, the reference's scale; no mask, so it is the same arithmetic.
            context = nn.functional.scaled_dot_product_attention(perHead[0], perHead[1], perHead[2])  // [B,H,S,D]
                .transpose(1, 2).reshape(batch, tokens, heads * headDim);                       // [B,S,C]
        }

        return PackedRowGroups.Run(projection, context, rows => PackedRowGroups.GroupLinear(projection, rows))
            .MoveToOuterDisposeScope();
    }
}
