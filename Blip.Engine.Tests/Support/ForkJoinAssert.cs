namespace Blip.Engine.Tests.Support;

/// <summary>The contract both fork-join teams (SpinningTeam, OpenMpTeam) keep, checked through their TryRun.</summary>
public static class ForkJoinAssert
{
    /// <summary>Every chunk of jobs of several sizes runs exactly once.</summary>
    public static void EveryChunkRunsOnce(Func<int, Action<int>, bool> tryRun, int rounds)
    {
        foreach (int chunks in new[] { 1, 2, 3, 4, 7, 16, 64, 128 })
        {
            for (int round = 0; round < rounds; round++)
            {
                var runs = new int[chunks];
                Assert.That(tryRun(chunks, c => Interlocked.Increment(ref runs[c])), Is.True, "no other caller owns the team");
                int wrong = Array.FindIndex(runs, n => n != 1);
                Assert.That(wrong, Is.EqualTo(-1), $"{chunks} chunks, round {round}: chunk {wrong} ran {(wrong < 0 ? 0 : runs[wrong])} times");
            }
        }
    }

    /// <summary>A chunk that throws is rethrown (inside an AggregateException) after the other chunks ran once each,
    /// and the next job runs normally.</summary>
    public static void FailureIsRethrownAndTheTeamStaysUsable(Func<int, Action<int>, bool> tryRun)
    {
        var runs = new int[6];
        var error = Assert.Throws<AggregateException>(() => tryRun(6, c =>
        {
            Interlocked.Increment(ref runs[c]);
            if (c == 3) throw new InvalidOperationException("chunk 3 failed");
        }));
        Assert.That(error!.InnerException, Is.TypeOf<InvalidOperationException>().With.Message.EqualTo("chunk 3 failed"));
        Assert.That(runs, Is.All.EqualTo(1), "the other chunks still ran, once each");
        var after = new int[4];
        Assert.That(tryRun(4, c => Interlocked.Increment(ref after[c])), Is.True);
        Assert.That(after, Is.All.EqualTo(1), "a job after the failure");
    }
}
