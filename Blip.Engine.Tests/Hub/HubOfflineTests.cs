// The cache without a server: HF_HUB_OFFLINE=1, a Python-made cache reused, a network failure falling back to it.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubOfflineTests : HubTestBase
{
    private const string RepoId = "Salesforce/blip-image-captioning-large";
    private const string Commit = "353689b859fcf0523410b1806dace5fb46ecdf41";

    [Test, CancelAfter(10_000)]
    public void Offline_without_cache_gives_a_one_line_instruction(CancellationToken ct)
    {
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(
            () => resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Offline = true }, null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.NotCached));
        Assert.That(error.Message, Does.Not.Contain('\n'));
        Assert.That(error.Message, Does.Contain(RepoId).And.Contain(Path.GetFullPath(CacheDir)).And.Contain("HF_HUB_OFFLINE=1")
            .And.Contain($"blip download {RepoId}").And.Contain("models--Salesforce--blip-image-captioning-large"));
    }

    [Test, CancelAfter(10_000)]
    public async Task Offline_with_python_cache_returns_the_snapshot(CancellationToken ct)
    {
        string snapshot = WritePythonStyleCache();
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Offline = true }, null, ct);

        Assert.That(folder, Is.EqualTo(snapshot));
        Assert.That(File.ReadAllText(Path.Combine(folder, "config.json")), Does.Contain("blip"));
    }

    [Test, CancelAfter(10_000)]
    public void Offline_with_only_part_of_the_model_cached_is_not_enough(CancellationToken ct)
    {
        string snapshot = WritePythonStyleCache();
        File.Delete(Path.Combine(snapshot, "model.safetensors"));
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(
            () => resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Offline = true }, null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.NotCached));
    }

    [Test, CancelAfter(60_000)]
    public async Task Python_cache_is_reused_when_the_server_is_down(CancellationToken ct)
    {
        string snapshot = WritePythonStyleCache();
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Endpoint = DeadEndpoint() }, null, ct);

        Assert.That(folder, Is.EqualTo(snapshot));
        Assert.That(Notes.ToString(), Does.Contain("Using the cached snapshot").And.Contain(snapshot));
    }

    [Test, CancelAfter(60_000)]
    public async Task Cache_filled_by_a_stopped_server_is_reused(CancellationToken ct)
    {
        var repo = FakeRepo.Blip();
        string endpoint;
        using (var hub = new FakeHub())
        {
            hub.AddRepo(repo);
            endpoint = hub.Endpoint;
            using var first = Resolver();
            await first.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);
        }
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(null) with { Endpoint = endpoint }, null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
        Assert.That(Notes.ToString(), Does.Contain("Cannot reach"));
    }

    [Test, CancelAfter(60_000)]
    public void Network_failure_without_cache_says_so(CancellationToken ct)
    {
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(
            () => resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Endpoint = DeadEndpoint() }, null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.NotCached));
        Assert.That(error.Message, Does.Contain("Cannot reach").And.Contain("blip download"));
    }

    [Test, CancelAfter(10_000)]
    public void Cached_pytorch_bin_only_is_refused_offline(CancellationToken ct)
    {
        string snapshot = WritePythonStyleCache();
        File.Move(Path.Combine(snapshot, "model.safetensors"), Path.Combine(snapshot, "pytorch_model.bin"));
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(
            () => resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Offline = true }, null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.UnsupportedWeights));
    }

    [Test, CancelAfter(60_000)]
    public async Task Single_file_download_works_online_then_offline(CancellationToken ct)
    {
        var repo = FakeRepo.Blip();
        using (var hub = new FakeHub())
        {
            hub.AddRepo(repo);
            using var online = Resolver();
            Assert.That(await online.TryDownloadFileAsync(repo.Id, "tokenizer.json", Options(hub), null, ct), Does.EndWith("tokenizer.json"));
            Assert.That(await online.TryDownloadFileAsync(repo.Id, "generation_config.json", Options(hub), null, ct), Is.Null);
        }
        using var resolver = Resolver();
        var offline = Options(null) with { Offline = true };

        string? path = await resolver.TryDownloadFileAsync(repo.Id, "tokenizer.json", offline, null, ct);

        Assert.That(File.ReadAllBytes(path!), Is.EqualTo(repo.Files["tokenizer.json"]));
        Assert.That(await resolver.TryDownloadFileAsync(repo.Id, "generation_config.json", offline, null, ct), Is.Null);
        var error = Assert.ThrowsAsync<HubException>(() => resolver.TryDownloadFileAsync(repo.Id, "vocab.txt", offline, null, ct));
        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.NotCached));
    }

    [TestCase("config.json", "config.json")]
    [TestCase("model.safetensors", "loop-b")]
    public void A_snapshot_symlink_loop_is_named_in_the_error(string name, string target)
    {
        string snapshot = WritePythonStyleCache();
        string pointer = Path.Combine(snapshot, name);
        File.Delete(pointer);
        File.CreateSymbolicLink(pointer, target);
        if (target != name)
            File.CreateSymbolicLink(Path.Combine(snapshot, target), name);  // a cycle of two links
        using var resolver = Resolver();
        var offline = Options(null) with { Offline = true };

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(RepoId, offline));
        var single = Assert.ThrowsAsync<HubException>(() => resolver.TryDownloadFileAsync(RepoId, name, offline));

        Assert.That(error!.Message, Does.Contain(pointer).And.Contain("symbolic link"));
        Assert.That(single!.Message, Does.Contain(pointer));
    }

    [Test]
    public void A_symlink_loop_as_refs_main_is_named_in_the_error()
    {
        WritePythonStyleCache();
        string refPath = Path.Combine(RepoFolder(RepoId), "refs", "main");
        File.Delete(refPath);
        File.CreateSymbolicLink(refPath, "main");
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Offline = true }));

        Assert.That(error!.Message, Does.Contain(refPath));
    }

    /// <summary>The layout huggingface_hub writes: blobs, relative symlinks from the snapshot, refs/main.</summary>
    private string WritePythonStyleCache()
    {
        string repoFolder = RepoFolder(RepoId);
        string blobs = Directory.CreateDirectory(Path.Combine(repoFolder, "blobs")).FullName;
        string snapshot = Directory.CreateDirectory(Path.Combine(repoFolder, "snapshots", Commit)).FullName;
        Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
        File.WriteAllText(Path.Combine(repoFolder, "refs", "main"), Commit);
        var files = new Dictionary<string, byte[]>
        {
            ["config.json"] = """{"model_type": "blip"}"""u8.ToArray(),
            ["model.safetensors"] = FakeRepo.RandomBytes(200_000, 5),
            ["tokenizer.json"] = "{}"u8.ToArray(),
        };
        foreach (var (name, bytes) in files)
        {
            string etag = name == "model.safetensors" ? FakeRepo.Sha256(bytes) : FakeRepo.GitId(bytes);
            File.WriteAllBytes(Path.Combine(blobs, etag), bytes);
            File.CreateSymbolicLink(Path.Combine(snapshot, name), "../../blobs/" + etag);
        }
        return snapshot;
    }
}
