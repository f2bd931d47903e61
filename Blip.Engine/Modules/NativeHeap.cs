// Hands free native heap memory back to the OS after a large inference forward (glibc's malloc_trim).
// Why: the vision encoder allocates and frees ~40 MB of activations per layer for one image (8× that for a batch of
// 8); glibc keeps most of the freed memory in its heap (fragmented, below its trim threshold), so a captioning
// process carried 130–150 MB of free heap into the decoding steps, where the decoder's weights are paged in on top.
// Measured on the machine of docs/BENCHMARKS.md: malloc_trim(0) after the vision forward released 134–154 MB in
// ~11 ms (a vision forward takes ~4 s). Not a library's usual business, but it only returns memory nobody uses;
// BLIP_TRIM_HEAP=0 turns it off. A no-op where glibc's malloc_trim does not exist (macOS, Windows, musl).
using System.Runtime.InteropServices;

namespace Blip.Engine.Modules;

/// <summary>Returns free pages of the C heap to the OS (Linux/glibc only).</summary>
internal static partial class NativeHeap
{
    private static bool available = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("BLIP_TRIM_HEAP") != "0";

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

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
