namespace Blip.Engine.Tests.Support;

/// <summary>Where the tests find the repository, its fixtures and the shared data beside the checkout.</summary>
public static class TestPaths
{
    /// <summary>The repository root: the first folder above the test assembly that holds Blip.Engine.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The committed fixtures folder (copied beside the test assembly).</summary>
    public static string Fixtures => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    /// <summary>A fixture path; fails the test with a message when it is missing.</summary>
    public static string Fixture(params string[] parts)
    {
        var path = Path.Combine([Fixtures, .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
            Assert.Fail($"fixture missing: {path} (regenerate with tools/reference/py tools/reference/make_fixtures.py)");
        return path;
    }

    /// <summary>A temporary folder deleted when the returned object is disposed.</summary>
    public static TempDir NewTempDir() => new();

    /// <summary>Copies the files (not subfolders) of <paramref name="from"/> into <paramref name="to"/>, creating it;
    /// with <paramref name="overwrite"/>, over files already there.</summary>
    public static void CopyFiles(string from, string to, bool overwrite = false)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Blip.Engine.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Blip.Engine.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Creates a fresh folder under the system temp path.</summary>
    public TempDir() => Directory.CreateDirectory(Path);

    /// <summary>The folder.</summary>
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "blip-tests-" + Guid.NewGuid().ToString("N"));

    /// <inheritdoc/>
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
