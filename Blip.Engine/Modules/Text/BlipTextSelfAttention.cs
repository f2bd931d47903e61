// transformers' BlipTextSelfAttention: query/key/value projections and scaled dot-product attention,
// used both as self-attention (keys from the text) and as cross-attention (keys from image or question states).
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Multi-head attention of the BERT text model; returns the context <c>[B,T,C]</c> before the output dense.</summary>
public sealed class BlipTextSelfAttention : nn.Module
{
    private readonly Linear query;  // [C,C]
    private readonly Linear key;    // [C,Ckv]
    private readonly Linear value;  // [C,Ckv]
    private readonly int heads;
    private readonly int headDim;

    /// <summary>Creates the projections; with <paramref name="isCrossAttention"/>, keys/values read
    /// <c>encoder_hidden_size</c>-wide states.</summary>
    public BlipTextSelfAttention(BlipTextConfig config, bool isCrossAttention) : base(nameof(BlipTextSelfAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        heads = config.NumAttentionHeads;
        headDim = config.HeadDim;
        long kvWidth = isCrossAttention ? config.EncoderHiddenSize : config.HiddenSize;
        query = nn.Linear(config.HiddenSize, config.HiddenSize);
        key = nn.Linear(kvWidth, config.HiddenSize);
        value = nn.Linear(kvWidth, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>Self-attention of <paramref name="hidden"/> [B,T,C] under an additive <paramref name="mask"/>
    /// [B,1,T,Tk] (null: attend everywhere); with a cache, this step's K/V are appended and all cached ones used.</summary>
    public Tensor SelfAttend(Tensor hidden, Tensor? mask, TextAttentionCache? cache)
    {
        using var scope = NewDisposeScope();
        var qkv = SkinnyLinear.Forward([query, key, value], hidden);        // 3 × [B,T,C]
        if (cache is not null && CachedStepAttention.TryAttend(qkv[0], qkv[1], qkv[2], mask, cache, heads) is { } step)
            return step.MoveToOuterDisposeScope();                          // [B,1,C]
        var (k, v) = (SplitHeads(qkv[1]), SplitHeads(qkv[2]));             // [B,H,T,D]
        if (cache is not null) (k, v) = cache.Append(k, v);                 // [B,H,Tk,D]
        return Attend(SplitHeads(qkv[0]), k, v, mask).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-attention from <paramref name="hidden"/> [B,T,C] to <paramref name="encoderStates"/> [Bk,S,Ckv].
    /// K/V come from <paramref name="cache"/> when it is already set (then <paramref name="encoderStates"/> may be null),
    /// else they are computed and stored there. B may be a multiple n of Bk (n beams per image): the beams share one
    /// copy of the image K/V. <paramref name="mask"/> is additive [Bk,1,1,S] or null.</summary>
    public Tensor CrossAttend(Tensor hidden, Tensor? encoderStates, Tensor? mask, TextAttentionCache? cache)
    {
        using var scope = NewDisposeScope();
        Tensor k, v;
        if (cache is { IsSet: true })
        {
            (k, v) = (cache.Keys!, cache.Values!);
        }
        else
        {
            if (encoderStates is null)
                throw new ArgumentNullException(nameof(encoderStates), "cross-attention needs encoder states or a filled cache");
            k = SplitHeads(OneDnnLinear.Forward(key, encoderStates));      // [Bk,H,S,D]
            v = SplitHeads(OneDnnLinear.Forward(value, encoderStates));
            cache?.Set(k, v);
        }
        var projected = SkinnyLinear.Forward(query, hidden);                             // [B,T,C]
        if (CrossStepAttention.TryAttend(projected, k, v, mask, heads) is { } step)
            return step.MoveToOuterDisposeScope();                                         // [B,1,C]
        var q = SplitHeads(projected);                                                     // [B,H,T,D]
        long groups = q.shape[0] / k.shape[0];
        if (groups * k.shape[0] != q.shape[0])
            throw new ArgumentException($"text batch {q.shape[0]} is not a multiple of image batch {k.shape[0]}", nameof(hidden));
        if (groups == 1) return Attend(q, k, v, mask).MoveToOuterDisposeScope();
        // Fold the n beams of an image into the query length: attention is per query row, so this is exact.
        long b = k.shape[0], t = q.shape[2];
        var folded = q.reshape(b, groups, heads, t, headDim)                // [Bk,n,H,T,D]
            .permute(0, 2, 1, 3, 4).reshape(b, heads, groups * t, headDim); // [Bk,H,n*T,D]
        var context = Attend(folded, k, v, mask)                            // [Bk,n*T,C]
            .reshape(b, groups, t, heads * headDim)                         // [Bk,n,T,C]
            .reshape(b * groups, t, heads * headDim);                       // [B,T,C]
        return context.MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x) =>
        x.view(x.shape[0], x.shape[1], heads, headDim).transpose(1, 2);    // [B,T,C] → [B,H,T,D]

    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        // SDPA's default scale is D^-0.5 and it adds a float mask to the scores before the softmax,
        // exactly as the reference's eager attention does with its finfo.min mask.
        var context = nn.functional.scaled_dot_product_attention(q, k, v, mask);   // [B,H,T,D]
        return context.transpose(1, 2).reshape(q.shape[0], q.shape[2], heads * headDim); // [B,T,C]
    }
}
