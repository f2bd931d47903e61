// Additive attention masks as transformers' eager masks: 0 where attending, the dtype's lowest value elsewhere.
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Builds the additive masks the text attention adds to its scores.</summary>
public static class AttentionMasks
{
    /// <summary>The dtype's most negative finite value (transformers uses <c>torch.finfo(dtype).min</c>).</summary>
    public static double MinValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => float.MinValue,
        ScalarType.Float64 => double.MinValue,
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        _ => throw new ArgumentException($"attention masks need a floating dtype, got {dtype}", nameof(dtype)),
    };

    /// <summary>Self-attention mask [B,1,T,Tk] for <paramref name="queryLength"/> new tokens after
    /// <paramref name="pastLength"/> cached ones; null when nothing is masked.</summary>
    /// <param name="attentionMask">[B,Tk] with 1 for real tokens and 0 for padding, or null (all real).</param>
    /// <param name="causal">Whether a token may not see later tokens (the decoder).</param>
    /// <param name="queryLength">T.</param>
    /// <param name="pastLength">Cached positions before the T new ones; Tk = past + T.</param>
    /// <param name="dtype">The dtype of the attention scores.</param>
    /// <param name="device">Where the mask lives.</param>
    public static Tensor? SelfAttention(Tensor? attentionMask, bool causal, long queryLength, long pastLength, ScalarType dtype, Device device)
    {
        long keyLength = pastLength + queryLength;
        if (attentionMask is not null && attentionMask.size(-1) != keyLength)
            throw new ArgumentException($"attention mask covers {attentionMask.shape[^1]} positions, expected past {pastLength} + new {queryLength}", nameof(attentionMask));
        if (attentionMask is not null) InputChecks.ZerosAndOnes(attentionMask, nameof(attentionMask));
        bool causalNeeded = causal && queryLength > 1;
        if (attentionMask is null && !causalNeeded) return null;
        using var scope = NewDisposeScope();
        Tensor? allowed = attentionMask?.to(ScalarType.Bool, device).unsqueeze(1).unsqueeze(1);   // [B,1,1,Tk]
        if (causalNeeded)
        {
            var rows = arange(pastLength, keyLength, device: device).unsqueeze(1);                 // [T,1]
            var cols = arange(0, keyLength, device: device).unsqueeze(0);                          // [1,Tk]
            var causalAllowed = cols.le(rows).unsqueeze(0).unsqueeze(0);                            // [1,1,T,Tk]
            allowed = allowed is null ? causalAllowed : allowed.logical_and(causalAllowed);        // [B,1,T,Tk]
        }
        return ToAdditive(allowed!, dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-attention mask [B,1,1,S] from a [B,S] padding mask; null when <paramref name="encoderMask"/> is
    /// null or has no padding.</summary>
    public static Tensor? CrossAttention(Tensor? encoderMask, ScalarType dtype, Device device)
    {
        if (encoderMask is null) return null;
        InputChecks.ZerosAndOnes(encoderMask, nameof(encoderMask));
        using var scope = NewDisposeScope();
        var allowed = encoderMask.to(ScalarType.Bool, device);
        if (allowed.all().item<bool>()) return null;
        return ToAdditive(allowed.unsqueeze(1).unsqueeze(1), dtype).MoveToOuterDisposeScope();    // [B,1,1,S]
    }

    private static Tensor ToAdditive(Tensor allowed, ScalarType dtype) =>
        where(allowed, zeros(1, dtype: dtype, device: allowed.device), full(1, MinValue(dtype), dtype: dtype, device: allowed.device));
}
