// Bad arguments to the public Hub API fail at once with an ArgumentException naming the parameter, before any request.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubArgumentTests : HubTestBase
{
    private const string RepoId = "Org/Name";

    [TestCase(null)]
    [TestCase("")]
    [TestCase("/etc/passwd")]
    [TestCase("../config.json")]
    [TestCase("sub/../../config.json")]
    [TestCase("sub//config.json")]
    [TestCase("sub\\config.json")]
    public void A_bad_file_name_is_an_argument_error(string? fileName)
    {
        using var resolver = Resolver();

        foreach (bool offline in new[] { true, false })
        {
            var error = Assert.ThrowsAsync(Is.InstanceOf<ArgumentException>(),
                () => resolver.TryDownloadFileAsync(RepoId, fileName!, Options(null) with { Offline = offline }));

            Assert.That(((ArgumentException)error!).ParamName, Is.EqualTo("fileName"));
            if (fileName is null)
                Assert.That(error, Is.TypeOf<ArgumentNullException>());
            else
                Assert.That(error.Message, Does.Contain($"'{fileName}'"));
        }
    }

    [Test]
    public void A_null_repo_id_or_options_is_named()
    {
        using var resolver = Resolver();

        var id = Assert.ThrowsAsync<ArgumentNullException>(() => resolver.TryDownloadFileAsync(null!, "config.json", Options(null)));
        var options = Assert.ThrowsAsync<ArgumentNullException>(() => resolver.TryDownloadFileAsync(RepoId, "config.json", null!));
        var resolveOptions = Assert.ThrowsAsync<ArgumentNullException>(() => resolver.ResolveModelFolderAsync(RepoId, null!));

        Assert.That(id!.ParamName, Is.EqualTo("repoId"));
        Assert.That(options!.ParamName, Is.EqualTo("options"));
        Assert.That(resolveOptions!.ParamName, Is.EqualTo("options"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => HubRepoId.Validate(null!))!.ParamName, Is.EqualTo("repoId"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => HubRepoId.CacheFolderName(null!))!.ParamName, Is.EqualTo("repoId"));
    }

    [TestCase("CacheDir")]
    [TestCase("Revision")]
    public void A_null_or_empty_option_is_named(string property)
    {
        using var resolver = Resolver();
        foreach (string? value in new[] { null, "" })
        {
            HubOptions options = property == "CacheDir" ? Options(null) with { CacheDir = value! } : Options(null) with { Revision = value! };

            var resolve = Assert.ThrowsAsync<ArgumentException>(() => resolver.ResolveModelFolderAsync(RepoId, options with { Offline = true }));
            var single = Assert.ThrowsAsync<ArgumentException>(() => resolver.TryDownloadFileAsync(RepoId, "config.json", options));

            Assert.That(resolve!.ParamName, Is.EqualTo("options"));
            Assert.That(resolve.Message, Does.Contain($"HubOptions.{property}"));
            Assert.That(single!.Message, Does.Contain($"HubOptions.{property}"));
        }
    }

    [TestCase("../main")]
    [TestCase("main\n")]          // git refs hold no whitespace or control characters
    [TestCase("my branch")]
    public void A_revision_that_is_not_a_ref_path_is_named(string revision)
    {
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<ArgumentException>(
            () => resolver.ResolveModelFolderAsync(RepoId, Options(null) with { Offline = true, Revision = revision }));

        Assert.That(error!.ParamName, Is.EqualTo("options"));
        Assert.That(error.Message, Does.Contain("HubOptions.Revision").And.Contain($"'{revision}'"));
    }

    [Test]
    public void A_timeout_that_is_not_positive_is_named()
    {
        using var resolver = Resolver();

        var error = Assert.ThrowsAsync<ArgumentException>(
            () => resolver.TryDownloadFileAsync(RepoId, "config.json", Options(null) with { EtagTimeout = TimeSpan.FromSeconds(-2) }));

        Assert.That(error!.ParamName, Is.EqualTo("options"));
        Assert.That(error.Message, Does.Contain("HubOptions.EtagTimeout"));
    }
}
