// Hands free native heap memory back to the OS after a large inference forward (glibc's malloc_trim) while a process
// is young, and keeps it once the process has shown that it runs forwards again and again.
// Why trim: the vision encoder allocates and frees ~40 MB of activations per layer for one image (8× that for a batch
// of 8); glibc keeps most of the freed memory in its heap (fragmented, below its trim threshold), so a captioning
// process carried 130–150 MB of free heap into the decoding steps, where the decoder's weights are paged in on top.
// Measured on machine 1 of docs/BENCHMARKS.md: malloc_trim(0) after the vision forward released 134–154 MB in ~11 ms
// (a vision forward takes ~4 s there); one caption's peak RSS stays at 1.17× the weights.
// Why keep: memory given back is page-faulted in again by the next forward. On machine 4 (AMD Zen 5) a packed ViT-L
// forward took 34–39k page faults with the trim and glibc's own trimming of the heap top; with the heap kept (no
// malloc_trim, mmap threshold fixed at 32 MB so activations come from the heap, trim threshold 1 GB) 2.3–2.6k, and the
// forward 1.21–1.22 s against 1.27–1.36 s (medians, three pairs of processes); a greedy caption 1.56 against 1.68 s,
// for ~100 MB more resident memory (2.33–2.36 against 2.24–2.25 GB in a process that keeps captioning). So the heap is
// trimmed after each of a process's first KeepFrom − 1 CPU inference forwards and kept from the KeepFrom-th on (the
// use on which OneDnnPackedLinear packs weights: one caption, or a batch of 8, still trims). Not a library's usual
// business, but it only changes how soon glibc gives free memory back. BLIP_TRIM_HEAP=0: never trim, never tune;
// =1: always trim, never keep. A no-op where glibc's malloc_trim and mallopt do not exist (macOS, Windows, musl).
using System.Runtime.InteropServices;

namespace Blip.Engine.Modules;

/// <summary>Returns free pages of the C heap to the OS after a process's first inference forwards, and keeps them for
/// the next forward from then on (Linux/glibc only).</summary>
internal static partial class NativeHeap
{
    /// <summary>The CPU inference forward from which the heap is kept (OneDnnPackedLinear's packing use).</summary>
    internal static int KeepFrom => OneDnnPackedLinear.PackOnUse;

    // glibc's mallopt parameters.
    private const int TrimThreshold = -1;   // M_TRIM_THRESHOLD
    private const int MmapThreshold = -3;   // M_MMAP_THRESHOLD (its largest allowed value is 32 MB on 64-bit)

    private static readonly string? Setting = Environment.GetEnvironmentVariable("BLIP_TRIM_HEAP");
    private static bool available = OperatingSystem.IsLinux() && Setting != "0";
    private static int forwards;
    private static int kept;      // 0: trimming; 1: kept; −1: glibc refused the settings (trimming, for good)

    /// <summary>Whether the heap is kept (true from the KeepFrom-th forward on, where glibc took the settings).</summary>
    internal static bool Keeps => Volatile.Read(ref kept) == 1;

    /// <summary>After a large CPU inference forward: <c>malloc_trim(0)</c> for the process's first KeepFrom − 1 of
    /// them, then the heap kept (see the header); never throws.</summary>
    public static void AfterForward()
    {
        if (!available) return;
        if (Setting != "1")
        {
            int state = Volatile.Read(ref kept);   // counted only until decided, so the count never wraps
            if (state == 0 && Interlocked.Increment(ref forwards) >= KeepFrom)
            {
                Keep();
                state = Volatile.Read(ref kept);
            }

            if (state == 1) return;
        }

        ReleaseFreeMemory();
    }

    /// <summary>Calls <c>malloc_trim(0)</c> where it exists; never throws.</summary>
    public static void ReleaseFreeMemory()
    {
        if (!available) return;
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;  // not glibc: nothing to do, now or later
        }
    }

    /// <summary>Back to a process's first forward (tests): trimming again, with glibc's default thresholds where they
    /// were changed (128 KB each; its dynamic mmap threshold does not come back).</summary>
    internal static void Reset()
    {
        if (Interlocked.Exchange(ref kept, 0) != 0)
        {
            _ = MallOpt(MmapThreshold, 128 << 10);
            _ = MallOpt(TrimThreshold, 128 << 10);
        }

        Volatile.Write(ref forwards, 0);
    }

    private static void Keep()
    {
        try
        {
            // Both or neither: a fixed mmap threshold without the high trim threshold would trim even more often.
            bool taken = MallOpt(MmapThreshold, 32 << 20) == 1 && MallOpt(TrimThreshold, 1 << 30) == 1;
            Interlocked.CompareExchange(ref kept, taken ? 1 : -1, 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
