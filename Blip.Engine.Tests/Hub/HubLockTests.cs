using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

/// <summary>The per-blob download lock: it waits while another handle holds it, and fails at once where the lock file
/// cannot be opened at all (before, every IOException was taken for contention and retried for ever).</summary>
public sealed class HubLockTests : HubTestBase
{
    private const string Etag = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Test]
    public async Task A_held_lock_is_waited_for_and_taken_once_released()
    {
        var cache = new HubCache(CacheDir, "Org/Name");
        var first = await cache.LockBlobAsync(Etag, CancellationToken.None);
        var second = cache.LockBlobAsync(Etag, CancellationToken.None);
        await Task.Delay(500);
        Assert.That(second.IsCompleted, Is.False, $"the second caller waits while the first holds the lock: {second.Exception?.InnerException?.Message}");
        first.Dispose();
        var completed = await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.That(completed, Is.SameAs(second), "the lock is taken within 10 s of its release");
        (await second).Dispose();
    }

    [Test]
    public async Task A_lock_file_that_cannot_be_opened_fails_naming_it()
    {
        var cache = new HubCache(CacheDir, "Org/Name");
        string folder = Path.Combine(CacheDir, ".locks", HubRepoId.CacheFolderName("Org/Name"));
        Directory.CreateDirectory(folder);
        string lockPath = Path.Combine(folder, Etag + ".lock");
        File.CreateSymbolicLink(lockPath, Etag + ".lock");                  // a link to itself: ELOOP on open
        var attempt = cache.LockBlobAsync(Etag, CancellationToken.None);
        var completed = await Task.WhenAny(attempt, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.That(completed, Is.SameAs(attempt), "an unopenable lock fails instead of waiting for ever");
        var e = Assert.ThrowsAsync<HubException>(async () => await attempt);
        Assert.That(e!.Message, Does.Contain(lockPath));
    }
}
