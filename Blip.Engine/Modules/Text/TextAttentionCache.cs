// Key/value cache of one attention block. The caller owns it (generation reorders beams on it); modules only
// read and append. Self-attention appends one step at a time; cross-attention is filled once per image.
// Without autograd the cached positions live at the front of buffers with room to spare, so that a step writes its
// one position in place (CachedStepAttention) instead of concatenating the whole cache again; the room doubles when
// it runs out. Under autograd each append concatenates, as before, so that no tensor autograd saved is written to.
// A beam reorder of such buffers copies the moved rows' cached positions in place: libtorch's index_select wrote a
// fresh tensor per block and step, and fresh memory is slow to first touch on the machines of docs/BENCHMARKS.md
// (optimisation 39).
using System.Buffers;
using Blip.Engine.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>Cached keys and values <c>[B,H,T,D]</c> of one attention block.</summary>
public sealed class TextAttentionCache : IDisposable
{
    // Positions a buffer holds at first: a caption of 20 tokens never grows it.
    internal const long InitialCapacity = 32;

    private Tensor? keyBuffer;    // [B,H,Cap,D]: positions [0, length) are the cache
    private Tensor? valueBuffer;
    private long length;
    private Tensor? keys;         // [B,H,length,D] views of the buffers, made when first asked for
    private Tensor? values;
    private Layout layout;        // the buffers' shape and addresses, read once per buffer

    /// <summary>Whether beam reorders of plain CPU buffers copy in place (default) rather than through index_select;
    /// tests and before/after measurements set it.</summary>
    internal static bool ReorderInPlace { get; set; } = true;

    private readonly record struct Layout(long Batch, long Heads, long Capacity, long HeadDim, ScalarType Type, bool PlainCpu, nint Keys, nint Values);

    /// <summary>Cached keys [B,H,T,D], or null before the first step.</summary>
    public Tensor? Keys => View(keyBuffer, ref keys);

    /// <summary>Cached values [B,H,T,D], or null before the first step.</summary>
    public Tensor? Values => View(valueBuffer, ref values);

    /// <summary>Whether keys and values are present.</summary>
    public bool IsSet => keyBuffer is not null;

    /// <summary>Number of cached positions T.</summary>
    public long Length => length;

    /// <summary>Positions the buffers hold before they must grow.</summary>
    internal long Capacity => layout.Capacity;

    /// <summary>Appends this step's <paramref name="newKeys"/>/<paramref name="newValues"/> [B,H,t,D] and returns the
    /// whole cache [B,H,T+t,D]. The cache keeps its own tensors; the caller's dispose scope never frees them.</summary>
    public (Tensor Keys, Tensor Values) Append(Tensor newKeys, Tensor newValues)
    {
        ArgumentNullException.ThrowIfNull(newKeys);
        ArgumentNullException.ThrowIfNull(newValues);
        long t = newKeys.shape[2];
        bool recorded = is_grad_enabled() && (newKeys.requires_grad || newValues.requires_grad || (keyBuffer?.requires_grad ?? false));
        if (!recorded && Fits(newKeys, t) && newValues.shape.AsSpan().SequenceEqual(newKeys.shape) && newValues.dtype == newKeys.dtype)
        {
            using (var slot = keyBuffer!.narrow(2, length, t)) slot.copy_(newKeys);
            using (var slot = valueBuffer!.narrow(2, length, t)) slot.copy_(newValues);
            Advance(t);
        }
        else
        {
            using var scope = NewDisposeScope();
            // cat also reports a batch, head or width that does not match the cached ones.
            var k = length == 0 ? newKeys.alias() : cat([Keys!, newKeys], dim: 2);                     // [B,H,T+t,D]
            var v = length == 0 ? newValues.alias() : cat([Values!, newValues], dim: 2);
            if (!recorded) (k, v) = (WithRoom(k), WithRoom(v));
            Replace(k, v, length + t);
        }

        return (Keys!, Values!);
    }

    /// <summary>Stores keys/values computed once (cross-attention over image states).</summary>
    public void Set(Tensor newKeys, Tensor newValues)
    {
        ArgumentNullException.ThrowIfNull(newKeys);
        ArgumentNullException.ThrowIfNull(newValues);
        Replace(newKeys.alias(), newValues.alias(), newKeys.shape[2]);
    }

    /// <summary>Keeps rows <paramref name="index"/> (dim 0) in that order, e.g. the surviving beams.</summary>
    public void Reorder(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        Reorder(index, ReorderRows(index));
    }

    /// <summary><see cref="Reorder(Tensor)"/> with <paramref name="index"/> already read as <paramref name="rows"/>
    /// (null where it could not be).</summary>
    internal void Reorder(Tensor index, long[]? rows)
    {
        if (keyBuffer is null || valueBuffer is null) return;
        if (rows is not null && TryReorderInPlace(rows)) return;
        Replace(keyBuffer.index_select(0, index), valueBuffer.index_select(0, index), length);
    }

    /// <summary><paramref name="index"/> as rows to keep where it can be read on the CPU: a contiguous 1-D int64 CPU
    /// tensor (what beam search passes); null otherwise (index_select then takes it, or refuses it). Read once per step for
    /// all the layers' caches (<see cref="TextDecoderCache.ReorderSelf"/>).</summary>
    internal static long[]? ReorderRows(Tensor index) =>
        index.device_type == DeviceType.CPU && index.dtype == ScalarType.Int64 && index.dim() == 1 && index.is_contiguous()
            ? index.data<long>().ToArray()
            : null;

    /// <summary>Keeps rows <paramref name="rows"/> in that order by copying the cached positions in place, where
    /// the buffers are plain CPU ones of as many rows and autograd is off (the copy bypasses the version counters by
    /// which autograd would notice a saved tensor being written) and one head's moved rows fit a pooled array; false
    /// (nothing changed) otherwise. A row outside the batch is refused, naming it.</summary>
    private unsafe bool TryReorderInPlace(ReadOnlySpan<long> rows)
    {
        if (!ReorderInPlace || keyBuffer is null || valueBuffer is null || !layout.PlainCpu || rows.Length != layout.Batch || is_grad_enabled()) return false;
        bool identity = true;
        for (int b = 0; b < rows.Length; b++)
        {
            if (rows[b] < 0 || rows[b] >= layout.Batch)
                throw new ArgumentOutOfRangeException(nameof(rows), rows[b], $"beam reorder index: row {rows[b]} at position {b} is outside the cache's {layout.Batch} rows");
            identity &= rows[b] == b;
        }

        if (identity) return true;
        // Per head, the moved rows' cached positions [0, length) are gathered into a pooled scratch and written back:
        // a row may be another's source, so none is overwritten before all are read. The capacity past length is unused.
        long elementSize = keyBuffer.element_size(), block = layout.Capacity * layout.HeadDim * elementSize;
        long filled = length * layout.HeadDim * elementSize;
        if (rows.Length * filled > Array.MaxLength) return false;
        var scratch = ArrayPool<byte>.Shared.Rent((int)(rows.Length * filled));
        try
        {
            fixed (byte* gathered = scratch)
            {
                foreach (nint buffer in (ReadOnlySpan<nint>)[layout.Keys, layout.Values])
                {
                    byte* data = (byte*)buffer;
                    for (long h = 0; h < layout.Heads; h++)
                    {
                        for (int b = 0; b < rows.Length; b++)                                     // [B,H,Cap,D] (rows[b], h)
                            if (rows[b] != b) Buffer.MemoryCopy(data + (((rows[b] * layout.Heads) + h) * block), gathered + (b * filled), filled, filled);
                        for (int b = 0; b < rows.Length; b++)
                            if (rows[b] != b) Buffer.MemoryCopy(gathered + (b * filled), data + (((b * layout.Heads) + h) * block), filled, filled);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }

        Advance(0);  // drops the views, which a caller may have read before the copy
        return true;
    }

    /// <summary>The buffers' addresses and capacity, with room for one more position of [<paramref name="batch"/>,
    /// <paramref name="heads"/>, ·, <paramref name="headDim"/>] <paramref name="dtype"/> values on the CPU, grown
    /// (cached positions copied) where needed; false where the cache holds other shapes, or autograd tensors. The caller
    /// writes position <see cref="Length"/> and then calls <see cref="Advance"/>. Asks TorchSharp nothing unless the
    /// buffers change (its queries are native calls).</summary>
    internal bool TryReserveStep(long batch, long heads, long headDim, ScalarType dtype, out nint keys, out nint values, out long capacity)
    {
        (keys, values, capacity) = (0, 0, 0);
        if (keyBuffer is null)
        {
            Replace(empty([batch, heads, InitialCapacity, headDim], dtype), empty([batch, heads, InitialCapacity, headDim], dtype), 0);
        }
        else
        {
            if (!layout.PlainCpu || layout.Type != dtype || layout.Batch != batch || layout.Heads != heads || layout.HeadDim != headDim) return false;
            if (length + 1 > layout.Capacity)
            {
                using var scope = NewDisposeScope();
                Replace(WithRoom(Keys!), WithRoom(Values!), length);
            }
        }

        (keys, values, capacity) = (layout.Keys, layout.Values, layout.Capacity);
        return true;
    }

    /// <summary>Counts <paramref name="positions"/> more positions, written in place into the buffers.</summary>
    internal void Advance(long positions)
    {
        length += positions;
        keys?.Dispose();
        values?.Dispose();
        keys = values = null;
    }

    private bool Fits(Tensor newKeys, long t)
    {
        if (keyBuffer is null || !layout.PlainCpu || length + t > layout.Capacity || newKeys.dim() != 4) return false;
        long[] shape = TensorMemory.Shape(newKeys);
        return shape[0] == layout.Batch && shape[1] == layout.Heads && shape[3] == layout.HeadDim
            && newKeys.dtype == layout.Type && newKeys.device_type == DeviceType.CPU;
    }

    // A buffer holding cached [B,H,T,D] at its front, with room for at least as many positions again.
    private static Tensor WithRoom(Tensor cached)
    {
        long[] shape = TensorMemory.Shape(cached);
        long positions = shape[2];
        var buffer = empty([shape[0], shape[1], Math.Max(InitialCapacity, 2 * positions), shape[3]],
            cached.dtype, cached.device);                                                              // [B,H,Cap,D]
        using var front = buffer.narrow(2, 0, positions);
        front.copy_(cached);
        return buffer;
    }

    private Tensor? View(Tensor? buffer, ref Tensor? view)
    {
        if (buffer is null) return null;
        if (view is null)
        {
            view = buffer.size(2) == length ? buffer.alias() : buffer.narrow(2, 0, length);         // [B,H,T,D]
            view.DetachFromDisposeScope();
        }

        return view;
    }

    private void Replace(Tensor k, Tensor v, long positions)
    {
        k.DetachFromDisposeScope();
        v.DetachFromDisposeScope();
        Advance(0);  // drops the views
        keyBuffer?.Dispose();
        valueBuffer?.Dispose();
        keyBuffer = k;
        valueBuffer = v;
        length = positions;
        long[] shape = TensorMemory.Shape(k);   // per beam reorder, 24 a step: not Tensor.shape (~1 µs each)
        bool plainCpu = shape.Length == 4 && k.device_type == DeviceType.CPU && v.device_type == DeviceType.CPU && k.is_contiguous()
            && v.is_contiguous() && !k.requires_grad && !v.requires_grad && k.dtype == v.dtype && shape.AsSpan().SequenceEqual(TensorMemory.Shape(v));
        layout = !plainCpu ? new Layout(0, 0, shape.Length == 4 ? shape[2] : 0, 0, k.dtype, false, 0, 0)
            : new Layout(shape[0], shape[1], shape[2], shape[3], k.dtype, true, TensorMemory.ContiguousAddress(k), TensorMemory.ContiguousAddress(v));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Advance(0);
        keyBuffer?.Dispose();
        valueBuffer?.Dispose();
        keyBuffer = valueBuffer = null;
        length = 0;
        layout = default;
    }
}
