// Downloads from FakeHub into a temp cache and checks the layout huggingface_hub writes and reads.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubDownloadTests : HubTestBase
{
    // FakeRepo.Blip() without its model.safetensors, for a test to add the weight files it is about.
    private static FakeRepo BlipWithoutWeights()
    {
        var repo = FakeRepo.Blip();
        repo.Files.Remove("model.safetensors");
        repo.Lfs.Clear();
        return repo;
    }

    [Test, CancelAfter(60_000)]
    public async Task Resolve_writes_python_cache_layout(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        string repoFolder = RepoFolder(repo.Id);
        Assert.That(folder, Is.EqualTo(Path.Combine(repoFolder, "snapshots", repo.Commit)));
        Assert.That(File.ReadAllText(Path.Combine(repoFolder, "refs", "main")), Is.EqualTo(repo.Commit));
        string weights = Path.Combine(folder, "model.safetensors");
        string sha = FakeRepo.Sha256(repo.Files["model.safetensors"]);
        Assert.That(new FileInfo(weights).LinkTarget, Is.EqualTo(Path.Combine("..", "..", "blobs", sha)));
        Assert.That(File.ReadAllBytes(weights), Is.EqualTo(repo.Files["model.safetensors"]));
        string config = Path.Combine(folder, "config.json");
        Assert.That(new FileInfo(config).LinkTarget, Is.EqualTo(Path.Combine("..", "..", "blobs", FakeRepo.GitId(repo.Files["config.json"]))));
        foreach (string name in repo.Files.Keys)
            Assert.That(File.ReadAllBytes(Path.Combine(folder, name)), Is.EqualTo(repo.Files[name]), name);
        Assert.That(File.Exists(Path.Combine(repoFolder, ".no_exist", repo.Commit, "generation_config.json")));
        Assert.That(File.Exists(Path.Combine(repoFolder, ".no_exist", repo.Commit, "processor_config.json")));
        Assert.That(Directory.GetFiles(Path.Combine(repoFolder, "blobs"), "*.incomplete"), Is.Empty);
    }

    [TestCase("model.safetensors", false), CancelAfter(60_000)]
    [TestCase("config.json", true)]
    [TestCase("model.safetensors", true)]
    public async Task Online_a_snapshot_link_that_loops_is_made_again(string name, bool pinnedCommit, CancellationToken ct)
    {
        // huggingface_hub's os.path.exists is false for a loop, so hf_hub_download links the blob again over it; the
        // pinned-commit fast path reads the cache before any request, and a loop there is absent too, not an error.
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();
        var options = pinnedCommit ? Options(hub) with { Revision = repo.Commit } : Options(hub);
        string folder = await resolver.ResolveModelFolderAsync(repo.Id, options, null, ct);
        string looping = Path.Combine(folder, name);
        File.Delete(looping);
        File.CreateSymbolicLink(looping, name);

        string again = await resolver.ResolveModelFolderAsync(repo.Id, options, null, ct);

        Assert.That(again, Is.EqualTo(folder));
        Assert.That(File.ReadAllBytes(looping), Is.EqualTo(repo.Files[name]));
        Assert.That(hub.Requests.Count(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), Is.EqualTo(1), "the blob was there: linked, not downloaded");
    }

    [Test, CancelAfter(60_000)]
    public async Task Second_resolve_makes_only_head_requests_and_skips_known_missing_files(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();
        await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);
        hub.Requests.Clear();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(Directory.Exists(folder));
        Assert.That(hub.Requests.Where(r => r.Method != "HEAD"), Is.Empty);
        Assert.That(hub.Requests.Where(r => r.Path.EndsWith("generation_config.json", StringComparison.Ordinal)), Is.Empty);
        Assert.That(hub.Requests.Count(r => r.Path.Contains("/resolve/main/", StringComparison.Ordinal)), Is.EqualTo(1), "only config.json asks the branch");
    }

    [Test, CancelAfter(60_000)]
    public async Task Commit_revision_fully_cached_needs_no_request(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();
        await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);
        hub.Requests.Clear();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub) with { Revision = repo.Commit }, null, ct);

        Assert.That(folder, Does.EndWith(repo.Commit));
        Assert.That(hub.Requests, Is.Empty);
    }

    [Test, CancelAfter(60_000)]
    public async Task Tag_revision_writes_its_ref(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        repo.Refs["v1.0"] = repo.Commit;
        hub.AddRepo(repo);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub) with { Revision = "v1.0" }, null, ct);

        Assert.That(File.ReadAllText(Path.Combine(RepoFolder(repo.Id), "refs", "v1.0")), Is.EqualTo(repo.Commit));
        Assert.That(File.Exists(Path.Combine(folder, "model.safetensors")));
        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub) with { Revision = "v9" }, null, ct));
        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.RevisionNotFound));
        Assert.That(error.Message, Does.Contain("v9"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Sharded_weights_follow_the_index(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = BlipWithoutWeights();
        repo.AddText("model.safetensors.index.json",
            """{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}""");
        repo.AddLfs("model-00001-of-00002.safetensors", FakeRepo.RandomBytes(120_000, 7));
        repo.AddLfs("model-00002-of-00002.safetensors", FakeRepo.RandomBytes(90_000, 8));
        hub.AddRepo(repo);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model-00002-of-00002.safetensors")), Is.EqualTo(repo.Files["model-00002-of-00002.safetensors"]));
        Assert.That(File.Exists(Path.Combine(RepoFolder(repo.Id), ".no_exist", repo.Commit, "model.safetensors")));
        Assert.That(hub.Requests.Count(r => r.Method == "GET" && r.Path.StartsWith("/cdn/", StringComparison.Ordinal)), Is.EqualTo(2));
    }

    [Test, CancelAfter(60_000)]
    public async Task Shards_in_a_subfolder_download_there_and_load(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = BlipWithoutWeights();
        repo.AddText("model.safetensors.index.json", """{"metadata": {}, "weight_map": {"a": "weights/s1.safetensors", "b": "s2.safetensors"}}""");
        foreach (var (file, name, value) in new[] { ("weights/s1.safetensors", "a", 1f), ("s2.safetensors", "b", 2f) })
        {
            string local = Path.Combine(TempDir, "shard.safetensors");
            using (var t = torch.full(3, value)) SafeTensorsWriter.Save(local, [new(name, t)]);
            repo.AddLfs(file, File.ReadAllBytes(local));
        }
        hub.AddRepo(repo);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "weights", "s1.safetensors")), Is.EqualTo(repo.Files["weights/s1.safetensors"]));
        using var reader = CheckpointReader.OpenFolder(folder);
        using var a = reader.Load("a");
        Assert.That(a.data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f, 1f }));
    }

    [Test, CancelAfter(60_000)]
    public void Pytorch_bin_only_is_refused_by_name(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = BlipWithoutWeights();
        repo.AddLfs("pytorch_model.bin", FakeRepo.RandomBytes(1000, 3));
        hub.AddRepo(repo);
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.UnsupportedWeights));
        Assert.That(error.Message, Does.Contain("pytorch_model.bin").And.Contain("model.safetensors").And.Contain(repo.Id));
    }

    [Test, CancelAfter(60_000)]
    public async Task Relative_lfs_redirect_on_the_same_host_is_followed(CancellationToken ct)
    {
        using var hub = new FakeHub { RelativeLfsRedirect = true };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
    }

    [Test, CancelAfter(60_000)]
    public async Task Progress_reaches_the_file_size(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip(weightBytes: 400_000);
        hub.AddRepo(repo);
        using var resolver = Resolver();
        var reports = new List<HubDownloadProgress>();
        var progress = new InlineProgress(reports.Add);

        await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), progress, ct);

        var weights = reports.Where(r => r.FileName == "model.safetensors").ToList();
        Assert.That(weights[^1].Completed);
        Assert.That(weights[^1].BytesReceived, Is.EqualTo(400_000));
        Assert.That(weights[^1].TotalBytes, Is.EqualTo(400_000));
        Assert.That(weights[^1].Percent, Is.EqualTo(100.0));
        Assert.That(reports.Select(r => r.BytesReceived), Is.All.GreaterThanOrEqualTo(0));
    }

    private sealed class InlineProgress(Action<HubDownloadProgress> report) : IProgress<HubDownloadProgress>
    {
        public void Report(HubDownloadProgress value) => report(value);
    }
}
