// The patterns that gate ids, commits and etags match the whole string: a trailing newline is not part of a valid one.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubPatternTests : HubTestBase
{
    private const string Commit = "353689b859fcf0523410b1806dace5fb46ecdf41";
    private const string Sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Test]
    public void A_trailing_newline_is_not_accepted()
    {
        Assert.That(HubCache.IsCommitHash(Commit), Is.True);
        Assert.That(HubCache.IsCommitHash(Commit + "\n"), Is.False, "commit");
        Assert.That(HubWeightFiles.IsSafeEtag(Sha256), Is.True);
        Assert.That(HubWeightFiles.IsSafeEtag(Sha256 + "\n"), Is.False, "etag");
        Assert.That(HubBlobDownload.IsSha256(Sha256), Is.True);
        Assert.That(HubBlobDownload.IsSha256(Sha256 + "\n"), Is.False, "sha256");
        Assert.That(HubRepoId.IsValid("Org/Name"), Is.True);
        Assert.That(HubRepoId.IsValid("Org/Name\n"), Is.False, "repo id");
    }

    [Test]
    public void A_ref_file_ending_in_a_newline_still_resolves()
    {
        var cache = new HubCache(CacheDir, "Org/Name");
        Directory.CreateDirectory(Path.Combine(cache.RepoFolder, "refs"));
        File.WriteAllText(Path.Combine(cache.RepoFolder, "refs", "main"), Commit + "\n");   // as git and some tools write it

        Assert.That(cache.ResolveCommit("main"), Is.EqualTo(Commit));
        Assert.That(cache.ResolveCommit(Commit + "\n"), Is.Null, "a revision with a newline is not taken for the commit");
    }
}
