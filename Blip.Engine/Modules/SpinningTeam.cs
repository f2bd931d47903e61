// A fork-join team for SkinnyLinear: one worker thread per extra core that keeps spinning for a short while after
// each job, so that the next linear of a decoding step (about 100 per step, tens of microseconds apart) starts on every
// core at once. Written by hand because .NET's thread pool parks idle workers within microseconds and wakes them
// through the OS: in a bfloat16 caption on the 2-vCPU Intel machine of docs/BENCHMARKS.md (Parallel.For over 4 chunks
// per linear), a second thread joined a linear only 20–45 µs after it began, and in 220–1,099 of 1,862 linears none
// joined at all, so the caller summed every chunk alone. No library here offers a spinning fork-join pool.
// Where libtorch's libgomp is found (Linux), SkinnyLinear runs on OpenMpTeam instead (libtorch's own threads, so no
// second spinning worker beside libgomp's: bfloat16 greedy decoding ~4% faster, docs/BENCHMARKS.md optimisation 19);
// this team serves the other platforms.
using System.Diagnostics;

namespace Blip.Engine.Modules;

/// <summary>Runs the chunks of a job on the calling thread and on spinning worker threads.</summary>
internal static class SpinningTeam
{
    // How long an idle worker spins before it sleeps. Long enough to bridge the gaps between a step's linears
    // (attention, layer norms, the search's own work), short enough that a finished generation frees the core at once.
    private static readonly long SpinTicks = Stopwatch.Frequency / 500;  // 2 ms

    private static readonly Worker[] Workers = CreateWorkers(Math.Clamp(Environment.ProcessorCount - 1, 0, 63));

    private static Job? current;     // the job being shared out, or null
    private static long published;   // how many jobs were ever published: workers compare it with what they saw
    private static int busy;         // 1 while a caller owns the team

    /// <summary>Runs <paramref name="body"/>(0 .. chunks-1), each chunk once, and returns when all have finished.
    /// Chunks are taken in order by whichever thread is free first, so a late or absent worker only means the caller
    /// sums more of them. Returns false, running nothing, when another thread owns the team; the caller then uses
    /// another way.</summary>
    public static bool TryRun(int chunks, Action<int> body)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunks);
        ArgumentNullException.ThrowIfNull(body);
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0) return false;
        try
        {
            var job = new Job(chunks, body);
            Volatile.Write(ref current, job);
            Interlocked.Increment(ref published);
            foreach (var worker in Workers) worker.WakeIfAsleep();
            job.Work();
            job.WaitForAll();
            Volatile.Write(ref current, null);
            job.ThrowIfFailed();
            return true;
        }
        finally
        {
            Volatile.Write(ref busy, 0);
        }
    }

    private static Worker[] CreateWorkers(int count)
    {
        var workers = new Worker[count];
        for (int i = 0; i < count; i++) workers[i] = new Worker(i);
        return workers;
    }

    private sealed class Job(int chunks, Action<int> body)
    {
        private int next;
        private int done;
        private Exception? failure;

        // Takes chunks until none is left. A chunk that throws is recorded; the caller rethrows the first one.
        public void Work()
        {
            int chunk;
            while ((chunk = Interlocked.Increment(ref next) - 1) < chunks)
            {
                try
                {
                    body(chunk);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                }
                finally
                {
                    Interlocked.Increment(ref done);
                }
            }
        }

        // Chunks still running are on workers that are awake, so this wait is short: spin.
        public void WaitForAll()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref done) < chunks) spin.SpinOnce(sleep1Threshold: -1);
        }

        public void ThrowIfFailed()
        {
            if (failure is not null) throw new AggregateException("a chunk of a SkinnyLinear job failed", failure);
        }
    }

    private sealed class Worker
    {
        private readonly object gate = new();
        private int asleep;

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"SkinnyLinear worker {index}" };
            thread.Start();
        }

        // Called after `published` was incremented (a full fence), so a worker that has not yet set `asleep` sees the
        // new job in its own check below and does not sleep.
        public void WakeIfAsleep()
        {
            if (Volatile.Read(ref asleep) == 0) return;
            lock (gate)
            {
                asleep = 0;
                Monitor.Pulse(gate);
            }
        }

        private void Loop()
        {
            long seen = 0;
            while (true)
            {
                seen = WaitForJob(seen);
                Volatile.Read(ref current)?.Work();
            }
        }

        // Spins until a job newer than `seen` is published or the spin window ends; then sleeps until woken.
        private long WaitForJob(long seen)
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            var spin = new SpinWait();
            while (true)
            {
                long now = Volatile.Read(ref published);
                if (now != seen) return now;
                if (Stopwatch.GetTimestamp() < until)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                    continue;
                }

                lock (gate)
                {
                    Interlocked.Exchange(ref asleep, 1);  // a full fence: the read below cannot move above it
                    if (Volatile.Read(ref published) == seen) Monitor.Wait(gate);
                    asleep = 0;
                }

                until = Stopwatch.GetTimestamp() + SpinTicks;
            }
        }
    }
}
