// Hub errors (missing repo, 401, bad ids) and token handling: sent as Bearer to the endpoint, never to another host.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubErrorTests : HubTestBase
{
    [Test, CancelAfter(60_000)]
    public void Missing_repository_says_not_found_or_private(CancellationToken ct)
    {
        using var hub = new FakeHub();
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync("Salesforce/nope", Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.RepositoryNotFound));
        Assert.That(error.Message, Does.Contain("not found or private").And.Contain("Salesforce/nope").And.Contain("HF_TOKEN"));
    }

    [Test, CancelAfter(60_000)]
    public void Private_repository_without_token_asks_for_HF_TOKEN(CancellationToken ct)
    {
        using var hub = new FakeHub { RequiredToken = "hf_secret" };
        hub.AddRepo(FakeRepo.Blip());
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync("Salesforce/blip-test", Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.AccessDenied));
        Assert.That(error.Message, Does.Contain("401").And.Contain("HF_TOKEN").And.Contain("no token was sent"));
    }

    [Test, CancelAfter(60_000)]
    public void Wrong_token_is_reported_as_refused(CancellationToken ct)
    {
        using var hub = new FakeHub { RequiredToken = "hf_secret" };
        hub.AddRepo(FakeRepo.Blip());
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(
            () => resolver.ResolveModelFolderAsync("Salesforce/blip-test", Options(hub) with { Token = "hf_wrong" }, null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.AccessDenied));
        Assert.That(error.Message, Does.Contain("refused").And.Contain("HF_TOKEN"));
    }

    [Test, CancelAfter(60_000)]
    public async Task Token_goes_to_the_hub_but_not_to_a_cdn_on_another_port(CancellationToken ct)
    {
        using var cdn = new FakeHub();
        using var hub = new FakeHub { RequiredToken = "hf_secret", BlobHost = cdn };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(repo.Id, Options(hub) with { Token = "hf_secret" }, null, ct);

        Assert.That(File.ReadAllBytes(Path.Combine(folder, "model.safetensors")), Is.EqualTo(repo.Files["model.safetensors"]));
        Assert.That(hub.Requests, Is.Not.Empty);
        Assert.That(hub.Requests.Select(r => r.Authorization), Is.All.EqualTo("Bearer hf_secret"));
        Assert.That(cdn.Requests, Has.Count.EqualTo(1));
        Assert.That(cdn.Requests.Select(r => r.Authorization), Is.All.Null);
    }

    [Test, CancelAfter(60_000)]
    public async Task Token_is_kept_for_a_redirect_on_the_same_host(CancellationToken ct)
    {
        using var hub = new FakeHub { RequiredToken = "hf_secret" };
        var repo = FakeRepo.Blip();
        hub.AddRepo(repo);
        using var resolver = Resolver();

        await resolver.ResolveModelFolderAsync(repo.Id, Options(hub) with { Token = "hf_secret" }, null, ct);

        Assert.That(hub.Requests.Where(r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).Select(r => r.Authorization),
            Is.All.EqualTo("Bearer hf_secret"));
    }

    [TestCase("Sales force/blip")]
    [TestCase("Org/-name")]
    [TestCase("Org/na--me")]
    [TestCase("Org/name.git")]
    [TestCase("Org/na..me")]
    [TestCase("Org/name!")]
    [TestCase("Org/name\n")]
    [TestCase("gpt2\n")]
    public void Invalid_repo_ids_are_named_in_the_error(string id)
    {
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<ArgumentException>(() => resolver.ResolveModelFolderAsync(id, Options(null)));

        Assert.That(error!.Message, Does.Contain($"'{id}'").And.Contain("Org/Name"));
        Assert.That(HubRepoId.IsValid(id), Is.False);
    }

    [TestCase("Salesforce/blip-image-captioning-large")]
    [TestCase("gpt2")]
    [TestCase("org_1/Name.v2-b")]
    public void Valid_repo_ids_pass(string id) => Assert.That(HubRepoId.IsValid(id), id);

    [Test, CancelAfter(60_000)]
    public async Task Local_folder_passes_through_without_network(CancellationToken ct)
    {
        string local = Path.Combine(TempDir, "my-model");
        Directory.CreateDirectory(local);
        using var resolver = Resolver();

        string folder = await resolver.ResolveModelFolderAsync(local, Options(null) with { Endpoint = DeadEndpoint() }, null, ct);

        Assert.That(folder, Is.EqualTo(Path.GetFullPath(local)));
        Assert.ThrowsAsync<DirectoryNotFoundException>(() => resolver.ResolveModelFolderAsync("./no-such-folder", Options(null), null, ct));
    }

    [Test, CancelAfter(60_000)]
    public void Repo_without_config_is_refused(CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = FakeRepo.Blip();
        repo.Files.Remove("config.json");
        hub.AddRepo(repo);
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync(repo.Id, Options(hub), null, ct));

        Assert.That(error!.Kind, Is.EqualTo(HubErrorKind.EntryNotFound));
        Assert.That(error.Message, Does.Contain("config.json"));
    }
}
