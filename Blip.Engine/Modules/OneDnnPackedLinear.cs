// OneDnnLinear's float32 linear with its weight laid out for oneDNN once, instead of on every call. Through the 1×1
// convolution oneDNN re-lays out each weight into its blocked format per call: on the Zen 5 of docs/BENCHMARKS.md
// (machine 4) 0.20–0.27 s of a ~1.25 s ViT-L vision forward (ONEDNN_VERBOSE), 1.2 GB read and written again. libtorch
// has the packed route (inductor's CPU freezing uses it): mkldnn::_reorder_linear_weight packs a weight once and
// mkldnn::_linear_pointwise runs oneDNN's inner product on it. TorchSharp wraps neither, so they are called through
// libtorch's own C shim (aoti_torch_call_dispatcher, aoti_torch_cpu__linear_pointwise: the stable ABI that
// AOTInductor's compiled models use; C entry points that turn C++ exceptions into error codes). Measured there, 12
// interleaved rounds in one process: a vision forward 1.174 against 1.361 s (medians; minima 1.144 and 1.228).
//
// When: wherever OneDnnLinear takes a linear (by default AMD Zen 5), for weights that alias a checkpoint's memory map
// (WeightMaterializer with memoryMap, as the pipelines load), are not inference tensors, and were never written
// (libtorch's version counter, read through the same shim, is 0; the weights of one file share a storage and so one
// counter, and a write to any of them counts). Once packed, a weight's file pages are dropped from the process
// (MappedPages; re-read from the file if anything reads them again), so the packed copy replaces them in memory
// instead of doubling it. A weight written in place later (an optimizer step, load_state_dict) changes the counter,
// and its packed copy is dropped for good: the convolution from then on. A weight is packed on its PackOnUse-th use,
// so a process that runs it a few times pays nothing for packing. Packed copies of disposed models are freed when the
// next weight is packed. Hand-written glue only: the arithmetic is oneDNN's.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Blip.Engine.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Packs memory-mapped float32 weights for oneDNN's inner product once and runs linears on the packed copy.</summary>
internal static unsafe partial class OneDnnPackedLinear
{
    private const string Library = "libtorch_cpu";

    // Weights that alias a checkpoint's memory map, registered by WeightMaterializer as it sets them on a module.
    private static readonly ConditionalWeakTable<Tensor, object> Mapped = new();

    private static readonly ConditionalWeakTable<Tensor, Packed> Cache = new();

    /// <summary>The use of a weight on which it is packed. Packing writes the copy into fresh memory: the forward that
    /// packs ViT-L's 1.2 GB took 1.5–2.7 s on machine 4 against ~1.2–1.4 s for one without, and each later forward
    /// gains ~0.19 s, so packing pays after several more uses. One caption uses each vision weight once, a batch of 8
    /// three times (passes of 3 images): those never pack; a process that keeps captioning packs on the fourth.</summary>
    internal const int PackOnUse = 4;

    private static readonly ConditionalWeakTable<Tensor, UseCount> Uses = new();
    private static readonly List<(WeakReference<Tensor> Weight, Packed Entry)> Entries = [];
    private static readonly Lock Gate = new();
    private static bool available = Environment.GetEnvironmentVariable("BLIP_ONEDNN_PACK") != "0";

    /// <summary>Whether packing is on (BLIP_ONEDNN_PACK=0 turns it off; off also once libtorch lacks the shim).</summary>
    internal static bool Enabled
    {
        get => available;
        set => available = value;
    }

    /// <summary>Marks <paramref name="weight"/> as aliasing a checkpoint's read-only file mapping, never written. An
    /// inference tensor (loaded under inference mode) is left out: it counts no writes, so a packed copy could go stale
    /// unseen; whether a tensor is one is fixed when it is made, so it is asked once, here.</summary>
    internal static void RegisterMapped(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (!available) return;
        try
        {
            if (!IsInference(weight)) Mapped.AddOrUpdate(weight, Mapped);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;     // a libtorch without the shim: the convolution route, now and later
        }
    }

    /// <summary>Whether <paramref name="weight"/> has a packed copy now (tests).</summary>
    internal static bool IsPacked(Tensor weight)
    {
        lock (Gate) return Cache.TryGetValue(weight, out _);
    }

    /// <summary><c>input·weightᵀ + bias</c> on <paramref name="weight"/>'s packed copy, packing it first where it may be;
    /// null where it may not (then the caller takes another route). The caller has checked the layout: float32 on the
    /// CPU, a contiguous 2-D weight, nothing for autograd to record.</summary>
    public static Tensor? TryForward(Tensor input, Tensor weight, Tensor? bias)
    {
        if (!available || !Mapped.TryGetValue(weight, out _)) return null;
        try
        {
            var packed = PackedFor(weight);
            if (packed is null) return null;
            // Outside the lock: other models' linears need not wait. Only this weight's own change (its model, on this
            // thread) or its disposal frees the packed copy.
            if (Linear(input, packed, bias) is { } output) return output;
            lock (Gate)
            {
                if (Cache.TryGetValue(weight, out var failed)) Forget(weight, failed);
                Mapped.Remove(weight);     // oneDNN refused it (libtorch logged why): the convolution from now on
            }

            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;     // a libtorch without the shim: the convolution route, now and later
            return null;
        }
    }

    // The weight's packed copy, packing it on its PackOnUse-th use; null while it is not (yet) to be packed.
    private static Tensor? PackedFor(Tensor weight)
    {
        lock (Gate)
        {
            long? version = Version(weight);
            long address = Address(weight);
            bool pristine = version == 0 && address != 0;
            if (Cache.TryGetValue(weight, out var entry))
            {
                if (pristine && address == entry.Address) return entry.Weight;
                Forget(weight, entry);     // written, or replaced in place, since it was packed
            }

            if (!pristine)
            {
                Mapped.Remove(weight);     // a written weight is never packed: the convolution from now on
                return null;
            }

            var uses = Uses.GetOrCreateValue(weight);
            if (++uses.Count < PackOnUse) return null;   // the convolution route until then (see PackOnUse)

            Sweep();
            var packed = Pack(weight);
            if (packed is null)
            {
                Mapped.Remove(weight);
                return null;
            }

            var added = new Packed(packed, address);
            Cache.Add(weight, added);
            Entries.Add((new WeakReference<Tensor>(weight), added));
            MappedPages.Release((byte*)address, weight.numel() * weight.element_size());
            return packed;
        }
    }

    // Whether the tensor was made under inference mode (the dispatcher's error counts as yes: then it is not packed).
    private static bool IsInference(Tensor weight)
    {
        var stack = stackalloc ulong[1];
        stack[0] = (ulong)NewHandle(weight);
        return aoti_torch_call_dispatcher("aten::is_inference", "", stack) != 0 || (stack[0] & 0xFF) != 0;
    }

    // libtorch's version counter of the weight (shared by views of one storage: a write to any weight of the same
    // mapping counts), or null where it cannot be read.
    private static long? Version(Tensor weight)
    {
        var stack = stackalloc ulong[1];
        stack[0] = (ulong)NewHandle(weight);
        if (aoti_torch_call_dispatcher("aten::_version", "", stack) != 0) return null;  // the shim took the handle
        return (long)stack[0];
    }

    private static long Address(Tensor weight)
    {
        void* data;
        return aoti_torch_get_data_ptr(weight.Handle, &data) == 0 ? (long)data : 0;
    }

    private static Tensor? Pack(Tensor weight)
    {
        var stack = stackalloc ulong[2];
        stack[0] = (ulong)NewHandle(weight);   // taken by the dispatcher
        stack[1] = 0;                          // batch_size: None
        if (aoti_torch_call_dispatcher("mkldnn::_reorder_linear_weight", "", stack) != 0) return null;
        return Tensor.UnsafeCreateTensor((IntPtr)stack[0]).DetachFromDisposeScope();
    }

    // Null where the shim reports a failure (it logs libtorch's message to stderr).
    private static Tensor? Linear(Tensor input, Tensor packed, Tensor? bias)
    {
        using var x = input.contiguous();
        IntPtr biasHandle = bias?.Handle ?? IntPtr.Zero;
        IntPtr result;
        if (aoti_torch_cpu__linear_pointwise(x.Handle, packed.Handle, bias is null ? null : &biasHandle, "none", null, 0, null, &result) != 0)
            return null;
        return Tensor.UnsafeCreateTensor(result);
    }

    private static IntPtr NewHandle(Tensor tensor)
    {
        IntPtr handle;
        if (aoti_torch_new_tensor_handle(tensor.Handle, &handle) != 0)
            throw new InvalidOperationException("libtorch could not create a tensor handle");
        return handle;
    }

    private static void Forget(Tensor weight, Packed entry)
    {
        Cache.Remove(weight);
        Entries.RemoveAll(e => ReferenceEquals(e.Entry, entry));
        entry.Weight.Dispose();
    }

    // Packed copies whose weight was disposed (its model disposed) or collected.
    private static void Sweep()
    {
        for (int i = Entries.Count - 1; i >= 0; i--)
        {
            var (reference, entry) = Entries[i];
            if (reference.TryGetTarget(out var weight) && !weight.IsInvalid) continue;
            entry.Weight.Dispose();
            Entries.RemoveAt(i);
            if (weight is not null) Cache.Remove(weight);
        }
    }

    private sealed class UseCount
    {
        public int Count { get; set; }
    }

    private sealed class Packed(Tensor weight, long address)
    {
        public Tensor Weight { get; } = weight;

        public long Address { get; } = address;
    }

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int aoti_torch_call_dispatcher(string opName, string overloadName, ulong* stack);

    [LibraryImport(Library)]
    private static partial int aoti_torch_new_tensor_handle(IntPtr original, IntPtr* result);

    [LibraryImport(Library)]
    private static partial int aoti_torch_get_data_ptr(IntPtr tensor, void** data);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int aoti_torch_cpu__linear_pointwise(IntPtr input, IntPtr weight, IntPtr* bias, string attr,
        double** scalars, long scalarCount, byte** algorithm, IntPtr* result);
}
