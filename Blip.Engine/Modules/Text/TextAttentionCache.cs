// Key/value cache of one attention block. The caller owns it (generation reorders beams on it); modules only
// read and append. Self-attention appends one step at a time; cross-attention is filled once per image.
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Cached keys and values <c>[B,H,T,D]</c> of one attention block.</summary>
public sealed class TextAttentionCache : IDisposable
{
    private Tensor? keys;
    private Tensor? values;

    /// <summary>Cached keys [B,H,T,D], or null before the first step.</summary>
    public Tensor? Keys => keys;

    /// <summary>Cached values [B,H,T,D], or null before the first step.</summary>
    public Tensor? Values => values;

    /// <summary>Whether keys and values are present.</summary>
    public bool IsSet => keys is not null;

    /// <summary>Number of cached positions T.</summary>
    public long Length => keys?.shape[2] ?? 0;

    /// <summary>Appends this step's <paramref name="newKeys"/>/<paramref name="newValues"/> [B,H,t,D] and returns the
    /// whole cache [B,H,T+t,D]. The cache keeps its own tensors; the caller's dispose scope never frees them.</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor newKeys, Tensor newValues)
    {
        ArgumentNullException.ThrowIfNull(newKeys);
        ArgumentNullException.ThrowIfNull(newValues);
        var k = keys is null ? newKeys.alias() : cat([keys, newKeys], dim: 2);   // [B,H,T+t,D]
        var v = values is null ? newValues.alias() : cat([values, newValues], dim: 2);
        Replace(k, v);
        return (keys!, values!);
    }

    /// <summary>Stores keys/values computed once (cross-attention over image states).</summary>
    public void Set(Tensor newKeys, Tensor newValues)
    {
        ArgumentNullException.ThrowIfNull(newKeys);
        ArgumentNullException.ThrowIfNull(newValues);
        Replace(newKeys.alias(), newValues.alias());
    }

    /// <summary>Keeps rows <paramref name="index"/> (dim 0) in that order, e.g. the surviving beams.</summary>
    public void Reorder(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (keys is null || values is null) return;
        Replace(keys.index_select(0, index), values.index_select(0, index));
    }

    private void Replace(Tensor k, Tensor v)
    {
        k.DetachFromDisposeScope();
        v.DetachFromDisposeScope();
        keys?.Dispose();
        values?.Dispose();
        keys = k;
        values = v;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        keys?.Dispose();
        values?.Dispose();
        keys = values = null;
    }
}
