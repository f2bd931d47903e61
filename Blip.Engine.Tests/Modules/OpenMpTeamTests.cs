using System.Collections.Concurrent;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The fork-join over libtorch's OpenMP team: found where libtorch ships libgomp, every chunk once, the
/// team's threads used, failures surfaced, concurrent and nested callers kept apart.</summary>
public class OpenMpTeamTests
{
    [Test]
    public void Finds_libtorchs_libgomp_on_linux()
    {
        if (OperatingSystem.IsLinux())
        {
            Assert.That(OpenMpTeam.IsAvailable, Is.True, "libtorch's Linux CPU build ships libgomp; it should be mapped once libtorch is loaded");
            Assert.That(Path.GetFileName(OpenMpTeam.LibraryPath), Does.StartWith("libgomp"));
        }
        else
        {
            Assert.That(OpenMpTeam.IsAvailable, Is.False, "only Linux's libgomp is looked for");
            Assert.That(OpenMpTeam.TryRun(3, _ => { }), Is.False, "no team: nothing runs, the caller uses another way");
        }
    }

    [Test]
    public void Every_chunk_runs_exactly_once()
    {
        RequireTeam();
        ForkJoinAssert.EveryChunkRunsOnce(OpenMpTeam.TryRun, rounds: 100);
    }

    [Test]
    public void Runs_on_as_many_threads_as_libtorch_uses()
    {
        RequireTeam();
        int threads = get_num_threads();
        var seen = new ConcurrentDictionary<int, bool>();
        for (int round = 0; round < 5 && seen.Count < threads; round++)
            OpenMpTeam.TryRun(8, _ =>
            {
                seen[Environment.CurrentManagedThreadId] = true;
                Thread.SpinWait(200_000);  // long enough for every thread of the team to take a chunk
            });
        Assert.That(seen.Count, Is.EqualTo(threads), $"libtorch threads: {threads}");
    }

    [Test]
    public void A_failing_chunk_is_rethrown_after_the_others_and_the_team_stays_usable()
    {
        RequireTeam();
        ForkJoinAssert.FailureIsRethrownAndTheTeamStaysUsable(OpenMpTeam.TryRun);
    }

    [Test]
    public void Concurrent_and_nested_callers_each_get_every_chunk_once()
    {
        RequireTeam();
        var failures = new ConcurrentQueue<string>();
        var callers = Enumerable.Range(0, 4).Select(caller => new Thread(() =>
        {
            for (int round = 0; round < 50; round++)
            {
                var runs = new int[10];
                var inner = new int[10 * 3];
                OpenMpTeam.TryRun(10, c =>
                {
                    Interlocked.Increment(ref runs[c]);
                    OpenMpTeam.TryRun(3, i => Interlocked.Increment(ref inner[c * 3 + i]));
                });
                if (runs.Any(n => n != 1) || inner.Any(n => n != 1)) failures.Enqueue($"caller {caller}, round {round}");
            }
        })).ToArray();
        foreach (var thread in callers) thread.Start();
        foreach (var thread in callers) Assert.That(thread.Join(TimeSpan.FromMinutes(2)), Is.True, "a caller hung");
        Assert.That(failures, Is.Empty);
    }

    [Test]
    public void Arguments_are_checked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => OpenMpTeam.TryRun(0, _ => { }));
        Assert.Throws<ArgumentNullException>(() => OpenMpTeam.TryRun(1, null!));
    }

    private static void RequireTeam()
    {
        if (!OpenMpTeam.IsAvailable)
            Assert.Fail($"libgomp was not found in this process ({Environment.OSVersion}); OpenMpTeam needs libtorch's Linux build");
    }
}
