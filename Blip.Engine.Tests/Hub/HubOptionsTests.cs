// HubOptions.FromEnvironment: huggingface_hub's variables and precedence, read through an injected lookup.
using Blip.Engine.Checkpoints;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Hub;

public sealed class HubOptionsTests : HubTestBase
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    [Test]
    public void Defaults_follow_home_cache_huggingface_hub()
    {
        var o = HubOptions.FromEnvironment(Env(("HOME", "/home/u")));

        Assert.That(o.CacheDir, Is.EqualTo(Path.Combine("/home/u", ".cache", "huggingface", "hub")));
        Assert.That(o.Endpoint, Is.EqualTo("https://huggingface.co"));
        Assert.That(o.Revision, Is.EqualTo("main"));
        Assert.That(o.Offline, Is.False);
        Assert.That(o.Token, Is.Null);
    }

    [Test]
    public void Cache_precedence_is_HF_HUB_CACHE_then_legacy_then_HF_HOME_then_XDG()
    {
        Assert.That(HubOptions.FromEnvironment(Env(("HOME", "/h"), ("XDG_CACHE_HOME", "/xdg"))).CacheDir,
            Is.EqualTo(Path.Combine("/xdg", "huggingface", "hub")));
        Assert.That(HubOptions.FromEnvironment(Env(("HOME", "/h"), ("XDG_CACHE_HOME", "/xdg"), ("HF_HOME", "/hf"))).CacheDir,
            Is.EqualTo(Path.Combine("/hf", "hub")));
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/legacy"))).CacheDir,
            Is.EqualTo("/legacy"));
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", "/hf"), ("HUGGINGFACE_HUB_CACHE", "/legacy"), ("HF_HUB_CACHE", "/new"))).CacheDir,
            Is.EqualTo("/new"));
        Assert.That(HubOptions.FromEnvironment(Env(("HOME", "/h"), ("HF_HOME", "~/hf"))).CacheDir,
            Is.EqualTo(Path.Combine("/h", "hf", "hub")));
    }

    [Test]
    public void Token_comes_from_HF_TOKEN_else_the_token_file()
    {
        string home = Path.Combine(TempDir, "hfhome");
        Directory.CreateDirectory(home);
        File.WriteAllText(Path.Combine(home, "token"), "hf_from_file\n");

        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", home))).Token, Is.EqualTo("hf_from_file"));
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", home), ("HF_TOKEN", "hf_env"))).Token, Is.EqualTo("hf_env"));
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", home), ("HUGGING_FACE_HUB_TOKEN", "hf_legacy"))).Token, Is.EqualTo("hf_legacy"));
        string other = Path.Combine(TempDir, "other-token");
        File.WriteAllText(other, "  hf_other  ");
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", home), ("HF_TOKEN_PATH", other))).Token, Is.EqualTo("hf_other"));
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HOME", Path.Combine(TempDir, "none")))).Token, Is.Null);
    }

    [TestCase("1", true)]
    [TestCase("true", true)]
    [TestCase("YES", true)]
    [TestCase("on", true)]
    [TestCase("0", false)]
    [TestCase("no", false)]
    public void Offline_accepts_huggingface_hub_true_values(string value, bool expected)
    {
        Assert.That(HubOptions.FromEnvironment(Env(("HF_HUB_OFFLINE", value))).Offline, Is.EqualTo(expected));
        Assert.That(HubOptions.FromEnvironment(Env(("TRANSFORMERS_OFFLINE", value))).Offline, Is.EqualTo(expected));
    }

    [Test]
    public void Endpoint_and_timeouts_are_read_and_overridable()
    {
        var o = HubOptions.FromEnvironment(Env(("HF_ENDPOINT", "https://hf-mirror.example/"), ("HF_HUB_ETAG_TIMEOUT", "3"), ("HF_HUB_DOWNLOAD_TIMEOUT", "30")));

        Assert.That(o.Endpoint, Is.EqualTo("https://hf-mirror.example"));
        Assert.That(o.EtagTimeout, Is.EqualTo(TimeSpan.FromSeconds(3)));
        Assert.That(o.DownloadTimeout, Is.EqualTo(TimeSpan.FromSeconds(30)));
        Assert.That((o with { Revision = "v2" }).Revision, Is.EqualTo("v2"));
        Assert.Throws<ArgumentException>(() => HubOptions.FromEnvironment(Env(("HF_HUB_ETAG_TIMEOUT", "soon"))));
    }

    [TestCase("not a url")]
    [TestCase("ftp://x")]
    [TestCase("http://")]
    [TestCase("")]
    [TestCase("/srv/hub")]
    public void A_bad_endpoint_is_named_with_HF_ENDPOINT(string endpoint)
    {
        using var resolver = Resolver();
        var options = Options(null) with { Endpoint = endpoint };

        var single = Assert.ThrowsAsync<HubException>(() => resolver.TryDownloadFileAsync("Org/Name", "config.json", options));
        var model = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync("Org/Name", options));

        Assert.That(single!.Message, Does.Contain("HF_ENDPOINT").And.Contain($"'{endpoint}'"));
        Assert.That(model!.Message, Does.Contain("HF_ENDPOINT").And.Contain($"'{endpoint}'"));
        Assert.That(model.Kind, Is.EqualTo(HubErrorKind.Other), "a configuration error, not a network failure that would fall back to the cache");
    }

    [Test]
    public void A_bad_HF_ENDPOINT_from_the_environment_is_named()
    {
        var options = HubOptions.FromEnvironment(Env(("HF_ENDPOINT", "ftp://mirror.example/"), ("HF_HUB_CACHE", CacheDir)));
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<HubException>(() => resolver.ResolveModelFolderAsync("Org/Name", options));

        Assert.That(error!.Message, Does.Contain("HF_ENDPOINT").And.Contain("'ftp://mirror.example'"));
        Assert.That(HubOptions.FromEnvironment(Env(("HF_ENDPOINT", ""))).Endpoint, Is.EqualTo(HubOptions.DefaultEndpoint), "empty means unset");
    }

    // Fixtures/hub/environment.json (tools/reference/make_hub_env_fixture.py): per environment, the HF_HOME, hub cache
    // and token file that huggingface_hub's constants.py computed.
    private static IEnumerable<TestCaseData> HubEnvironmentCases()
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("hub", "environment.json")));
        foreach (var c in json.RootElement.GetProperty("cases").EnumerateObject())
        {
            var vars = c.Value.GetProperty("environment").EnumerateObject().Select(v => (v.Name, v.Value.GetString()!)).ToArray();
            yield return new TestCaseData(vars, c.Value.GetProperty("hf_home").GetString(), c.Value.GetProperty("cache_dir").GetString(),
                c.Value.GetProperty("token_path").GetString()).SetArgDisplayNames(c.Name);
        }
    }

    [TestCaseSource(nameof(HubEnvironmentCases))]
    public void Folders_expand_tilde_and_variables_as_huggingface_hub_does((string, string)[] vars, string home, string cacheDir, string tokenPath)
    {
        var folders = HubOptions.Folders(Env(vars));

        Assert.That(folders, Is.EqualTo((home, cacheDir, tokenPath)), "(HF_HOME, HF_HUB_CACHE, HF_TOKEN_PATH) as huggingface_hub computed them");
        Assert.That(HubOptions.FromEnvironment(Env(vars)).CacheDir, Is.EqualTo(cacheDir));
    }

    [Test]
    public void The_token_file_is_found_through_an_expanded_HF_TOKEN_PATH()
    {
        string file = Path.Combine(TempDir, "tokens", "hf");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, "hf_expanded\n");

        Assert.That(HubOptions.FromEnvironment(Env(("TOKENS", Path.Combine(TempDir, "tokens")), ("HF_TOKEN_PATH", "${TOKENS}/hf"))).Token,
            Is.EqualTo("hf_expanded"));
    }
}
