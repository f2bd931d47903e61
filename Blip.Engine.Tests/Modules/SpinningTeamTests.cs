using System.Collections.Concurrent;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The spinning fork-join team under SkinnyLinear: every chunk once, errors surfaced, workers that slept
/// woken, and concurrent callers kept apart.</summary>
[NonParallelizable]  // the team is process-wide; timing-free except for generous waits
public class SpinningTeamTests
{
    [Test]
    public void Every_chunk_runs_exactly_once() => ForkJoinAssert.EveryChunkRunsOnce(SpinningTeam.TryRun, rounds: 200);

    [Test]
    public void Workers_that_went_to_sleep_are_woken_for_the_next_job()
    {
        for (int round = 0; round < 5; round++)
        {
            Thread.Sleep(30);  // well past the 2 ms spin window: the workers sleep
            var threads = new ConcurrentDictionary<int, bool>();
            var runs = new int[8];
            Assert.That(SpinningTeam.TryRun(8, c =>
            {
                threads[Environment.CurrentManagedThreadId] = true;
                Interlocked.Increment(ref runs[c]);
                Thread.SpinWait(200_000);  // long enough (~1 ms or more) for a sleeping worker to wake and join
            }), Is.True);
            Assert.That(runs, Is.All.EqualTo(1), $"round {round}");
            if (Environment.ProcessorCount > 1)
                Assert.That(threads.Count, Is.GreaterThan(1), $"round {round}: with {Environment.ProcessorCount} cores a worker should take some of 8 chunks");
            else
                Assert.That(threads.Count, Is.EqualTo(1), "one core: the caller runs every chunk");
        }
    }

    [Test]
    public void A_failing_chunk_is_rethrown_after_the_others_finish_and_the_team_stays_usable() =>
        ForkJoinAssert.FailureIsRethrownAndTheTeamStaysUsable(SpinningTeam.TryRun);

    [Test]
    public void A_second_caller_is_refused_while_the_team_is_busy()
    {
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var owner = Task.Run(() => SpinningTeam.TryRun(1, _ =>
        {
            inside.Set();
            release.Wait();
        }));
        Assert.That(inside.Wait(TimeSpan.FromSeconds(30)), Is.True, "the first job started");
        bool ran = false;
        bool accepted = SpinningTeam.TryRun(2, _ => ran = true);
        release.Set();
        Assert.That(owner.Wait(TimeSpan.FromSeconds(30)) && owner.Result, Is.True, "the first job finished");
        Assert.That(accepted, Is.False, "the busy team refuses a second caller");
        Assert.That(ran, Is.False, "a refused job runs nothing");
    }

    [Test]
    public void Rejects_a_job_without_chunks()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SpinningTeam.TryRun(0, _ => { }));
        Assert.Throws<ArgumentNullException>(() => SpinningTeam.TryRun(1, null!));
    }
}
