// Per-test temp cache folder and options pointing at a FakeHub; everything is removed after the test.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public abstract class HubTestBase
{
    protected string TempDir { get; private set; } = "";

    protected string CacheDir => Path.Combine(TempDir, "hub");

    protected StringWriter Notes { get; private set; } = new();

    [SetUp]
    public void CreateTempDir()
    {
        TempDir = Path.Combine(Path.GetTempPath(), "blip-hub-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(TempDir);
        Notes = new StringWriter();
    }

    [TearDown]
    public void DeleteTempDir()
    {
        Notes.Dispose();
        if (Directory.Exists(TempDir))
            Directory.Delete(TempDir, recursive: true);
    }

    protected HubOptions Options(FakeHub? hub) => new()
    {
        Endpoint = hub?.Endpoint ?? "http://127.0.0.1:9",
        CacheDir = CacheDir,
        Token = null,
        Offline = false,
        EtagTimeout = TimeSpan.FromSeconds(20),
        DownloadTimeout = TimeSpan.FromSeconds(20),
    };

    protected HubModelResolver Resolver() => new(Notes);

    protected string RepoFolder(string repoId) => Path.Combine(CacheDir, HubRepoId.CacheFolderName(repoId));

    /// <summary>A port nothing listens on (bound, then released).</summary>
    protected static string DeadEndpoint()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }
}
