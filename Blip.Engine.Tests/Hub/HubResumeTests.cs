// Interrupted downloads resume with Range; a server that ignores Range restarts cleanly; a corrupt body is rejected.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubResumeTests : HubTestBase
{
    [Test, CancelAfter(60_000)]
    public async Task Interrupted_download_resumes_with_range(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip(weightBytes: 500_000);
        hub.AddRepo(repo);
        hub.DropOnce(afterBytes: 123_456);
        using var resolver = Resolver();
        string sha = FakeRepo.Sha256(repo.Files["model.safetensors"]);
        string incomplete = Path.Combine(RepoFolder(repo.Id), "blobs", sha + ".incomplete");

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));
        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Interrupted));
        Assert.That(error.Message, Does.Contain("model.safetensors").And.Contain("resume"));
        Assert.That(new FileInfo(incomplete).Length, Is.EqualTo(123_456));
        hub.Requests.Clear();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        var get = hub.Requests.Single(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal));
        Assert.That(get.Range, Is.EqualTo("bytes=123456-"));
        byte[] bytes = File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));
        Assert.That(FakeRepo.Sha256(bytes), Is.EqualTo(sha));
        Assert.That(File.Exists(incomplete), Is.False);
    }

    [Test, CancelAfter(60_000)]
    public async Task Stalled_download_times_out_and_resumes(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip(weightBytes: 300_000);
        hub.AddRepo(repo);
        hub.StallOnce(afterBytes: 65_536);
        using var resolver = Resolver();
        var options = Options(hub) with { DownloadTimeout = TimeSpan.FromSeconds(1) };

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, options, null, ct));
        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.Interrupted));

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, options, null, ct);

        Assert.That(hub.Requests.Last(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range, Is.EqualTo("bytes=65536-"));
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
    }

    [Test, CancelAfter(60_000)]
    public async Task Server_ignoring_range_restarts_from_zero(CancellationToken ct)
    {
        using var hub = new FakeHub { IgnoreRange = true };
        await ResumesToTheWholeFileInOneGetAsync(hub, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task A_range_answered_200_with_its_content_range_is_resumed_not_written_at_zero(CancellationToken ct)
    {
        using var hub = new FakeHub { PartialWithStatus200 = true };
        await ResumesToTheWholeFileInOneGetAsync(hub, ct);
    }

    [Test, CancelAfter(60_000)]
    public async Task A_blob_that_is_a_symlink_loop_is_downloaded_again_and_replaced(CancellationToken ct)
    {
        // huggingface_hub's os.path.exists is false for a loop, so it downloads and moves the blob over the link.
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip(weightBytes: 50_000);
        hub.AddRepo(repo);
        string blob = Path.Combine(RepoFolder(repo.Id), "blobs", FakeRepo.Sha256(repo.Files["model.safetensors"]));
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        File.CreateSymbolicLink(blob, Path.GetFileName(blob));
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
        Assert.That(new FileInfo(blob).LinkTarget, Is.Null, "the blob is a file again");
    }

    /// <summary>A third of the weights is already in the .incomplete file: one GET with a Range gives the whole file.</summary>
    private async Task ResumesToTheWholeFileInOneGetAsync(FakeHub hub, CancellationToken ct)
    {
        var repo = FakeRepo.Blip(weightBytes: 300_000);
        hub.AddRepo(repo);
        string sha = FakeRepo.Sha256(repo.Files["model.safetensors"]);
        string blobs = Path.Combine(RepoFolder(repo.Id), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, sha + ".incomplete"), repo.Files["model.safetensors"][..100_000]);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(hub.Requests.Single(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Range, Is.EqualTo("bytes=100000-"));
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
    }

    [Test, CancelAfter(60_000)]
    public async Task A_complete_partial_of_unannounced_size_gets_416_and_restarts_from_zero(CancellationToken ct)
    {
        using var hub = new FakeHub { OmitLfsSize = true };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        byte[] weights = repo.Files["model.safetensors"];
        string incomplete = Path.Combine(RepoFolder(repo.Id), "blobs", FakeRepo.Sha256(weights) + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(incomplete)!);
        File.WriteAllBytes(incomplete, weights);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        var gets = hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Range).ToList();
        Assert.That(gets, Is.EqualTo(new[] { $"bytes={weights.Length}-", null }), "the Range past the end gets 416, then one GET from 0");
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(weights));
        Assert.That(File.Exists(incomplete), Is.False);
    }

    [Test, CancelAfter(60_000)]
    public async Task A_body_ending_short_cleanly_is_not_resumed_for_ever(CancellationToken ct)
    {
        using var hub = new FakeHub { MissingBlobBytes = 1_000 };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        byte[] weights = repo.Files["model.safetensors"];
        string incomplete = Path.Combine(RepoFolder(repo.Id), "blobs", FakeRepo.Sha256(weights) + ".incomplete");
        using var resolver = Resolver();
        var first = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));
        Assert.That(first!.Kind, Is.EqualTo(HubErrorKind.Interrupted), first.Message);
        Assert.That(new FileInfo(incomplete).Length, Is.EqualTo(weights.Length - 1_000));
        hub.Requests.Clear();

        var second = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));

        Assert.That(second!.Kind, Is.EqualTo(HubErrorKind.IntegrityMismatch), second.Message);
        Assert.That(second.Message, Does.Contain("model.safetensors").And.Contain($"{weights.Length - 1_000}").And.Contain($"{weights.Length}"));
        Assert.That(hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Range),
            Is.EqualTo(new[] { $"bytes={weights.Length - 1_000}-", null }), "the 416 restarts the download from 0 once");
        Assert.That(File.Exists(incomplete), Is.False, "the partial that cannot be resumed is deleted");
        hub.MissingBlobBytes = 0;
        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(weights));
    }

    [Test, CancelAfter(60_000)]
    public void A_body_longer_than_announced_is_cut_off_and_deleted(CancellationToken ct)
    {
        using var hub = new FakeHub { ExtraBlobBytes = 16 << 20 };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();
        string sha = FakeRepo.Sha256(repo.Files["model.safetensors"]);
        long size = repo.Files["model.safetensors"].Length;

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.IntegrityMismatch));
        var kept = long.Parse(System.Text.RegularExpressions.Regex.Match(error.Message, @"has (\d+) bytes").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(kept, Is.GreaterThan(size).And.AtMost(size + (1 << 16)), "reading stops within one buffer of the announced size, not at the 16 MB the server sends");
        string blobs = Path.Combine(RepoFolder(repo.Id), "blobs");
        Assert.That(Directory.GetFiles(blobs).Where(f => Path.GetFileName(f).StartsWith(sha, StringComparison.Ordinal)), Is.Empty);
    }

    [Test, CancelAfter(60_000)]
    public void Corrupt_body_fails_the_sha256_check_and_leaves_nothing(CancellationToken ct)
    {
        using var hub = new FakeHub { CorruptBlobs = true };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();
        string sha = FakeRepo.Sha256(repo.Files["model.safetensors"]);

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.IntegrityMismatch));
        Assert.That(error.Message, Does.Contain("model.safetensors").And.Contain(sha).And.Contain("sha256"));
        string repoFolder = RepoFolder(repo.Id);
        Assert.That(File.Exists(Path.Combine(repoFolder, "snapshots", repo.Commit, "model.safetensors")), Is.False);
        Assert.That(Directory.GetFiles(Path.Combine(repoFolder, "blobs")).Where(f => Path.GetFileName(f).StartsWith(sha, StringComparison.Ordinal)), Is.Empty);
    }

    [Test, CancelAfter(60_000)]
    public async Task Complete_incomplete_file_is_verified_without_a_get(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        string sha = FakeRepo.Sha256(repo.Files["model.safetensors"]);
        string blobs = Path.Combine(RepoFolder(repo.Id), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, sha + ".incomplete"), repo.Files["model.safetensors"]);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), Is.Empty);
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
    }
}
