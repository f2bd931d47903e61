// Online, a cached model is used when the Hub refuses its metadata or cannot be written to, as huggingface_hub does;
// a pinned commit still fetches the files its snapshot lacks; a redirect to another host never carries the token.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubCacheFallbackTests : HubTestBase
{
    /// <summary>Serves a BLIP repository from <paramref name="hub"/> and resolves it once, filling the cache.</summary>
    private async Task<(FakeRepo Repo, string Snapshot)> CacheBlipAsync(FakeHub hub, HubModelResolver resolver, CancellationToken ct)
    {
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        return (repo, await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));
    }

    [TestCase(401), CancelAfter(60_000)]
    [TestCase(403)]
    [TestCase(429)]
    [TestCase(200)] // a proxy's page: no X-Repo-Commit, no ETag
    public async Task A_cached_model_is_used_when_the_hub_refuses_its_metadata(int status, CancellationToken ct)
    {
        using var hub = new FakeHub();
        using var resolver = Resolver();
        var (repo, cached) = await CacheBlipAsync(hub, resolver, ct);
        hub.AnswerEveryResolveWith = status;

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);
        string? file = await resolver.TryDownloadFileAsync(repo.Id, "tokenizer.json", Options(hub), null, ct);

        Assert.That(folder, Is.EqualTo(cached));
        Assert.That(file, Is.EqualTo(Path.Combine(cached, "tokenizer.json")));
        Assert.That(Notes.ToString(), Does.Contain("Using the cached snapshot").And.Contain("Using the cache for tokenizer.json"));
    }

    [TestCase(401, HubErrorKind.AccessDenied), CancelAfter(60_000)]
    [TestCase(429, HubErrorKind.Other)]
    [TestCase(200, HubErrorKind.Other)]
    public void Without_a_cached_copy_the_hubs_answer_is_the_error(int status, HubErrorKind kind, CancellationToken ct)
    {
        using var hub = new FakeHub { AnswerEveryResolveWith = status };
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync("Org/model", Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(kind), error.Message);
        Assert.That(error.Message, Does.Contain($"{hub.Endpoint}/Org/model/resolve/main/config.json"));
    }

    [Test, CancelAfter(60_000)]
    public async Task A_cache_this_process_cannot_write_still_serves_a_cached_model(CancellationToken ct)
    {
        using var hub = new FakeHub();
        using var resolver = Resolver();
        var (repo, cached) = await CacheBlipAsync(hub, resolver, ct);
        // No lock can be taken and no missing file recorded (as in another user's cache; files stand in for the
        // folders because permissions do not stop root, who runs CI).
        Directory.Delete(Path.Combine(CacheDir, ".locks"), recursive: true);
        File.WriteAllText(Path.Combine(CacheDir, ".locks"), "");
        Directory.Delete(Path.Combine(RepoFolder(repo.Id), ".no_exist"), recursive: true);
        File.WriteAllText(Path.Combine(RepoFolder(repo.Id), ".no_exist"), "");
        hub.Requests.Clear();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct);

        Assert.That(folder, Is.EqualTo(cached));
        Assert.That(hub.Requests.Where(r => r.Method == "GET"), Is.Empty, "nothing downloaded again");
    }

    [Test, CancelAfter(60_000)]
    public async Task A_pinned_commit_fetches_the_files_its_cached_snapshot_lacks(CancellationToken ct)
    {
        using var hub = new FakeHub();
        using var resolver = Resolver();
        var (repo, cached) = await CacheBlipAsync(hub, resolver, ct);
        File.Delete(Path.Combine(cached, "tokenizer.json")); // as a snapshot Python filled with the model alone
        hub.Requests.Clear();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub) with { Revision = repo.Commit }, null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "tokenizer.json")), Is.EqualTo(repo.Files["tokenizer.json"]));
        Assert.That(hub.Requests.Select(r => r.Path), Has.All.Contains("tokenizer.json"), "only the missing file is asked for");
    }

    [TestCase("//127.0.0.1:{0}/Org/model/resolve/main/config.json"), CancelAfter(60_000)]
    [TestCase("\\\\127.0.0.1:{0}/Org/model/resolve/main/config.json")]
    public void A_redirect_to_another_host_written_without_a_scheme_gets_no_token(string location, CancellationToken ct)
    {
        using var other = new FakeHub();
        using var hub = new FakeHub { ConfigRedirect = string.Format(System.Globalization.CultureInfo.InvariantCulture, location, other.Port) };
        using var resolver = Resolver();

        Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync("Org/model", Options(hub) with { Token = "hf_secret" }, null, ct));

        Assert.That(hub.Requests.Select(r => r.Authorization), Is.All.EqualTo("Bearer hf_secret"));
        Assert.That(other.Requests.Select(r => r.Authorization), Is.All.Null, "the token went to another host");
    }

    [Test, CancelAfter(60_000)]
    public async Task A_download_waits_for_its_first_byte_as_long_as_the_download_timeout(CancellationToken ct)
    {
        using var hub = new FakeHub { BlobHeaderDelay = TimeSpan.FromSeconds(2) };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();
        // HF_HUB_ETAG_TIMEOUT bounds the metadata requests, HF_HUB_DOWNLOAD_TIMEOUT the download's (huggingface_hub's http_get).
        var options = Options(hub) with { EtagTimeout = TimeSpan.FromSeconds(1), DownloadTimeout = TimeSpan.FromSeconds(20) };

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, options, null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
    }
}
