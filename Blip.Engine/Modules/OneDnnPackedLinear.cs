// OneDnnLinear's float32 linear with its weight laid out for oneDNN once, instead of on every call. Through the 1×1
// convolution oneDNN re-lays out each weight into its blocked format per call: on the Zen 5 of docs/BENCHMARKS.md
// (machine 4) 0.20–0.27 s of a ~1.25 s ViT-L vision forward (ONEDNN_VERBOSE), 1.2 GB read and written again. libtorch
// has the packed route (inductor's CPU freezing uses it): mkldnn::_reorder_linear_weight packs a weight once and
// mkldnn::_linear_pointwise runs oneDNN's inner product on it. TorchSharp wraps neither, so they are called through
// libtorch's own C shim (aoti_torch_call_dispatcher, aoti_torch_cpu__linear_pointwise: the stable ABI that
// AOTInductor's compiled models use; C entry points that turn C++ exceptions into error codes). Measured there, 12
// interleaved rounds in one process: a vision forward 1.174 against 1.361 s (medians; minima 1.144 and 1.228).
//
// bfloat16 takes the same route: libtorch's bf16 linear is oneDNN's matmul, which copies the weight into its blocked
// layout on every call too; on machine 4, ViT-L's fc1 shape ran at 480–539 GFLOP/s through it and 700–771 packed
// (fc2's 430–475 against 595–723).
//
// When: wherever OneDnnLinear takes a linear (by default AMD CPUs with AVX-512), and for decoding steps of many rows
// where SkinnyLinear.PackedFirstFor sends them to a packed copy (by default on Zen 4), for weights that WeightMaterializer
// registered as it set them on a module, are not inference tensors, and were not written since (libtorch's version
// counter, read through the same shim, is unchanged; the weights of one file share a storage and so one counter, and a
// write to any of them counts). Two kinds are registered: weights that alias a checkpoint's memory map (memoryMap, as the pipelines
// load), whose file pages are dropped from the process once packed (MappedPages; re-read from the file if anything
// reads them again), so the packed copy replaces them in memory instead of doubling it; and weights converted at load
// to a narrower dtype (bfloat16 from a float32 file), whose model owns half the file's bytes, so that with packed
// copies of its linears it still holds less than the file. Other owned copies are not packed: that would double them.
// A weight written in place later (an optimizer step, load_state_dict) changes the counter, and its packed copy is
// dropped for good: the unpacked route from then on. A weight is packed on its PackOnUse-th use, so a process that runs
// it a few times pays nothing for packing. Packed copies of disposed models are freed when the next weight is packed.
// Hand-written glue only: the arithmetic is oneDNN's.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Blip.Engine.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Packs float32 (memory-mapped) and bfloat16 (converted at load) weights for oneDNN's inner product once and
/// runs linears on the packed copy.</summary>
internal static unsafe partial class OneDnnPackedLinear
{
    private const string Library = "libtorch_cpu";

    // Weights WeightMaterializer registered as it set them on a module, with their version counter then.
    private static readonly ConditionalWeakTable<Tensor, Candidate> Candidates = new();

    private static readonly ConditionalWeakTable<Tensor, Packed> Cache = new();

    /// <summary>The use of a weight on which it is packed. Packing writes the copy into fresh memory: the forward that
    /// packs ViT-L's 1.2 GB took 1.5–2.7 s on machine 4 against ~1.2–1.4 s for one without, and each later forward
    /// gains ~0.19 s, so packing pays after several more uses. One caption uses each vision weight once, a batch of 8
    /// three times (passes of 3 images): those never pack; a process that keeps captioning packs on the fourth. Tests
    /// set 1 to run every use on packed copies.</summary>
    internal static int PackOnUse { get; set; } = 4;

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

    /// <summary>Marks <paramref name="weight"/>, just loaded, as one that may be packed: <paramref name="fileBacked"/>
    /// where it aliases a checkpoint's read-only file mapping (its pages are released once packed), else converted at
    /// load to a narrower dtype. An inference tensor (loaded under inference mode) is left out: it counts no writes, so
    /// a packed copy could go stale unseen; whether a tensor is one is fixed when it is made, so it is asked once, here,
    /// with the version counter that later uses must still see.</summary>
    internal static void Register(Tensor weight, bool fileBacked)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (!available) return;
        try
        {
            if (!IsInference(weight) && Version(weight) is { } version) Candidates.AddOrUpdate(weight, new Candidate(fileBacked, version));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;     // a libtorch without the shim: unpacked, now and later
        }
    }

    /// <summary>Whether <paramref name="weight"/> has a packed copy now (tests).</summary>
    internal static bool IsPacked(Tensor weight)
    {
        lock (Gate) return Cache.TryGetValue(weight, out _);
    }

    /// <summary><c>input·weightᵀ + bias</c> on <paramref name="weight"/>'s packed copy, packing it first where it may be;
    /// null where it may not (then the caller takes another route). The caller has checked the layout: float32 or
    /// bfloat16 (input, weight and bias of one dtype) on the CPU, a contiguous 2-D weight, nothing for autograd to
    /// record.</summary>
    public static Tensor? TryForward(Tensor input, Tensor weight, Tensor? bias) => TryForward(input, weight, bias, PackOnUse);

    /// <summary><see cref="TryForward(Tensor, Tensor, Tensor?)"/>, packing the weight on its
    /// <paramref name="packOnUse"/>-th use (counted with every other route's uses of it) instead of
    /// <see cref="PackOnUse"/>'s.</summary>
    public static Tensor? TryForward(Tensor input, Tensor weight, Tensor? bias, int packOnUse)
    {
        if (!available || !Candidates.TryGetValue(weight, out var candidate)) return null;
        try
        {
            var packed = PackedFor(weight, candidate, packOnUse);
            if (packed is null) return null;
            // Outside the lock: other models' linears need not wait. Only this weight's own change (its model, on this
            // thread) or its disposal frees the packed copy.
            if (Linear(input, packed, bias) is { } output) return output;
            lock (Gate)
            {
                if (Cache.TryGetValue(weight, out var failed)) Forget(weight, failed);
                Candidates.Remove(weight);     // oneDNN refused it (libtorch logged why): unpacked from now on
            }

            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;     // a libtorch without the shim: unpacked, now and later
            return null;
        }
    }

    // The weight's packed copy, packing it on its packOnUse-th use; null while it is not (yet) to be packed.
    private static Tensor? PackedFor(Tensor weight, Candidate candidate, int packOnUse)
    {
        lock (Gate)
        {
            long? version = Version(weight);
            long address = Address(weight);
            bool pristine = version == candidate.Version && address != 0;
            if (Cache.TryGetValue(weight, out var entry))
            {
                if (pristine && address == entry.Address) return entry.Weight;
                Forget(weight, entry);     // written, or replaced in place, since it was packed
            }

            if (!pristine)
            {
                Candidates.Remove(weight);     // a written weight is never packed: unpacked from now on
                return null;
            }

            var uses = Uses.GetOrCreateValue(weight);
            if (++uses.Count < packOnUse) return null;   // unpacked until then (see PackOnUse)

            Sweep();
            var packed = Pack(weight);
            if (packed is null)
            {
                Candidates.Remove(weight);
                return null;
            }

            var added = new Packed(packed, address);
            Cache.Add(weight, added);
            Entries.Add((new WeakReference<Tensor>(weight), added));
            if (candidate.FileBacked) MappedPages.Release((byte*)address, weight.numel() * weight.element_size());
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
    // mapping counts), or null where it cannot be read (an inference tensor has none).
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

    // A registered weight: whether its memory is a file's mapping, and its version counter when registered.
    private sealed record Candidate(bool FileBacked, long Version);

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
