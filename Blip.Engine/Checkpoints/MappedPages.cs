// Drops pages of a read-only file mapping from the process's resident set once their bytes have been copied out.
// Why: SafeTensorsFile reads through a memory map; every page read stays mapped, and counted in RSS, until the file is
// closed. Converting a 1.78 GB float32 checkpoint to bfloat16 therefore peaked at 2.83 GB (file pages + the 0.89 GB
// of converted weights) although the file's bytes are needed only once. The pages stay in the OS page cache; a later
// read simply faults them back in. Hand-written because .NET has no madvise wrapper.
using System.Runtime.InteropServices;

namespace Blip.Engine.Checkpoints;

/// <summary><c>madvise(MADV_DONTNEED)</c> on read-only mappings (Linux only; elsewhere a no-op).</summary>
internal static unsafe partial class MappedPages
{
    private const int MadvDontNeed = 4;  // Linux <sys/mman.h>
    private static bool available = OperatingSystem.IsLinux();

    /// <summary>Unmaps the whole pages inside [<paramref name="start"/>, +<paramref name="length"/>) from this process.
    /// Only for read-only mappings of a file: their contents are re-read from the file on the next access.</summary>
    public static void Release(byte* start, long length)
    {
        if (!available || length <= 0) return;
        long page = Environment.SystemPageSize;
        long first = ((long)start + page - 1) / page * page, end = ((long)start + length) / page * page;  // inner pages only
        if (end <= first) return;
        try
        {
            _ = Madvise((void*)first, (nuint)(end - first), MadvDontNeed);  // a failure only leaves the pages resident
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            available = false;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
