// libtorch's intra-op thread count for the calling thread, changed for a scope and restored after.
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Sets the calling thread's libtorch thread count until disposed (the default value does nothing).</summary>
/// <remarks>
/// Why: in a decoding step every linear runs in <see cref="SkinnyLinear"/> on its own threads
/// (<see cref="SpinningTeam"/>), and libtorch is left with small element-wise work that gains nothing from threads.
/// When libtorch still runs that work in OpenMP regions, its worker threads spin between regions and take the cores
/// the kernel's threads need; measured on 2 vCPUs: 69 ms per greedy step with 2 libtorch threads, 57 ms with 1
/// (beam 3: 92 → 75 ms). The scope covers the LM head too (<see cref="SkinnyLinear.StepThreads"/>): with the head
/// left at 2 threads, libgomp's worker burned 90–170 ms of CPU per bfloat16 caption during the steps, and the team's
/// worker, preempted, joined a linear 20–50 µs late or not at all. The count is per thread (OpenMP's nthreads ICV):
/// other threads' libtorch work keeps its own. Used only where the kernel runs on SpinningTeam: on libtorch's own
/// OpenMP team (<see cref="OpenMpTeam"/>, Linux) the kernel's threads are libgomp's, and the step keeps libtorch's
/// thread count.
/// </remarks>
internal readonly struct TorchThreadScope : IDisposable
{
    private readonly int previous;

    private TorchThreadScope(int previous) => this.previous = previous;

    /// <summary>Uses <paramref name="threads"/> libtorch threads on this thread until the scope is disposed.</summary>
    public static TorchThreadScope Use(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        int current = get_num_threads();
        if (current == threads) return default;
        set_num_threads(threads);
        return new TorchThreadScope(current);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (previous > 0) set_num_threads(previous);
    }
}
