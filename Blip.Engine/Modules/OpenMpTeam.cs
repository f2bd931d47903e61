// A fork-join over libtorch's own OpenMP thread team (libgomp's GOMP_parallel), for hand-written kernels that run
// between libtorch ops. Why not .NET threads: after each parallel libtorch op, libgomp's worker keeps spinning for
// milliseconds (5.6–12.4 ms of CPU measured after one matmul on the 2-vCPU Intel machine of docs/BENCHMARKS.md), so
// a second .NET thread started then shares a core with that spinner: 8 chunks of 0.5 ms right after a matmul took
// 4.1 ms on SpinningTeam against 2.0 ms here, and the second thread began work after 10–12 µs here against
// 54–70 µs on SpinningTeam. Run on libgomp's team, the spinning worker is the one that takes the work. No library
// wraps GOMP_parallel for .NET; this calls its C ABI directly (fn(data) on every thread of a new team, the caller included).
using System.Runtime.InteropServices;

namespace Blip.Engine.Modules;

/// <summary>Runs the chunks of a job on libtorch's OpenMP threads (the calling thread among them).</summary>
internal static unsafe class OpenMpTeam
{
    private static readonly Lazy<Entry?> Parallel = new(Find, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Whether libtorch's libgomp was found in this process (Linux builds of libtorch ship one; call after
    /// libtorch is loaded, i.e. after any tensor was created). Without it <see cref="TryRun"/> returns false.</summary>
    public static bool IsAvailable => Parallel.Value is not null;

    /// <summary>Where the libgomp in use was found, or null.</summary>
    internal static string? LibraryPath => Parallel.Value?.Path;

    /// <summary>Runs <paramref name="body"/>(0 .. chunks-1), each chunk once, on a team of as many threads as the
    /// calling thread's libtorch thread count (<c>torch.get_num_threads</c>), and returns when all have finished.
    /// Chunks are taken in order by whichever thread is free. A chunk that throws does not stop the others; the first
    /// failure is rethrown in an <see cref="AggregateException"/>. Returns false, running nothing, when libgomp is not
    /// available. Called from inside a chunk, the inner job runs on the calling thread alone (OpenMP's nesting).</summary>
    public static bool TryRun(int chunks, Action<int> body)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunks);
        ArgumentNullException.ThrowIfNull(body);
        var entry = Parallel.Value;
        if (entry is null) return false;
        var job = new Job(chunks, body);
        var handle = GCHandle.Alloc(job);
        try
        {
            // num_threads 0: the team size is the caller's nthreads ICV, which torch.set_num_threads sets.
            entry.Run(&Work, GCHandle.ToIntPtr(handle), 0, 0);
        }
        finally
        {
            handle.Free();
        }

        if (job.Failure is not null) throw new AggregateException("a chunk of an OpenMP team job failed", job.Failure);
        return true;
    }

    // Runs on every thread of the team. Nothing may escape an UnmanagedCallersOnly method: failures are recorded.
    [UnmanagedCallersOnly]
    private static void Work(IntPtr data)
    {
        var job = (Job)GCHandle.FromIntPtr(data).Target!;
        int chunk;
        while ((chunk = Interlocked.Increment(ref job.Next) - 1) < job.Chunks)
        {
            try
            {
                job.Body(chunk);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref job.Failure, e, null);
            }
        }
    }

    // libtorch's libgomp, from this process's mappings: the one beside libtorch_cpu if there are several.
    private static Entry? Find()
    {
        if (!OperatingSystem.IsLinux()) return null;
        _ = TorchSharp.torch.get_num_threads();  // makes sure libtorch, and with it its libgomp, is loaded
        string[] mapped;
        try
        {
            mapped = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
                .Where(fields => fields.Length == 6 && fields[5].StartsWith('/'))
                .Select(fields => fields[5].Trim())
                .Distinct()
                .ToArray();
        }
        catch (IOException)
        {
            return null;
        }

        string? torchDirectory = mapped.Where(p => Path.GetFileName(p).StartsWith("libtorch_cpu", StringComparison.Ordinal))
            .Select(Path.GetDirectoryName).FirstOrDefault();
        var candidates = mapped.Where(p => Path.GetFileName(p).StartsWith("libgomp", StringComparison.Ordinal))
            .OrderBy(p => Path.GetDirectoryName(p) == torchDirectory ? 0 : 1)
            .ToArray();
        foreach (var path in candidates)
        {
            // Already mapped, so this returns the loaded copy (glibc matches the file) and loads nothing new.
            if (!NativeLibrary.TryLoad(path, out var library)) continue;
            if (NativeLibrary.TryGetExport(library, "GOMP_parallel", out var parallel))
                return new Entry(path, (delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void>)parallel);
        }

        return null;
    }

    private sealed class Entry(string path, delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> run)
    {
        public string Path { get; } = path;

        // void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags)
        public delegate* unmanaged<delegate* unmanaged<IntPtr, void>, IntPtr, uint, uint, void> Run { get; } = run;
    }

    private sealed class Job(int chunks, Action<int> body)
    {
        public readonly int Chunks = chunks;
        public readonly Action<int> Body = body;
        public int Next;
        public Exception? Failure;
    }
}
