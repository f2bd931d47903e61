// The on-disk layout of one repository in the Hugging Face hub cache, as huggingface_hub writes it:
// models--Org--Name/{blobs/<etag>, refs/<revision>, snapshots/<commit>/<file> -> ../../blobs/<etag>, .no_exist/<commit>/<file>}.
using System.Text.RegularExpressions;

namespace Blip.Engine.Checkpoints;

/// <summary>Reads and writes one repository's folder of the hub cache.</summary>
internal sealed partial class HubCache
{
    public HubCache(string cacheDir, string repoId)
    {
        CacheDir = Path.GetFullPath(cacheDir);
        RepoFolder = Path.Combine(CacheDir, HubRepoId.CacheFolderName(repoId));
    }

    public string CacheDir { get; }

    public string RepoFolder { get; }

    public static bool IsCommitHash(string revision) => CommitPattern().IsMatch(revision);

    public string BlobPath(string etag) => Path.Combine(RepoFolder, "blobs", etag);

    public string SnapshotFolder(string commit) => Path.Combine(RepoFolder, "snapshots", commit);

    public string PointerPath(string commit, string fileName) => Path.Combine(SnapshotFolder(commit), LocalPath(fileName));

    /// <summary>The commit a revision points to: the revision itself if it is a hash, else <c>refs/&lt;revision&gt;</c>.</summary>
    public string? ResolveCommit(string revision)
    {
        if (IsCommitHash(revision))
            return revision;
        // Stripped as huggingface_hub does: tools write refs with a trailing newline; the pattern itself takes none.
        string? commit = ReadCacheFile(Path.Combine(RepoFolder, "refs", LocalPath(revision)))?.Trim();
        return commit is not null && IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Records <c>refs/&lt;revision&gt;</c>, only when it changes (the cache may be read-only otherwise).</summary>
    public void WriteRef(string revision, string commit)
    {
        if (revision == commit)
            return;
        string refPath = Path.Combine(RepoFolder, "refs", LocalPath(revision));
        if (ReadCacheFile(refPath) == commit)
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        File.WriteAllText(refPath, commit);
    }

    /// <summary>Records that <paramref name="fileName"/> does not exist at <paramref name="commit"/> (an empty file).</summary>
    public void MarkMissing(string commit, string fileName)
    {
        string path = Path.Combine(RepoFolder, ".no_exist", commit, LocalPath(fileName));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (File.Create(path))
        {
        }
    }

    public bool IsMarkedMissing(string commit, string fileName) =>
        File.Exists(Path.Combine(RepoFolder, ".no_exist", commit, LocalPath(fileName)));

    /// <summary>Whether a snapshot file exists and, if it is a link, its blob exists too.</summary>
    /// <exception cref="HubException">The link cannot be followed (a loop of symbolic links), naming the path.</exception>
    public static bool PointerExists(string pointerPath)
    {
        bool exists = IsFileOrLinkToOne(pointerPath, out var unfollowable);
        return unfollowable is null ? exists : throw Unreadable(pointerPath, unfollowable);
    }

    /// <summary>Whether <paramref name="path"/> is a file or a link that resolves to one; a broken or looping link is
    /// not, as huggingface_hub's <c>os.path.exists</c> has it. Online, such a blob is downloaded again and such a
    /// snapshot link made again over it (offline, <see cref="PointerExists"/> names it instead).</summary>
    public static bool LeadsToFile(string path) => IsFileOrLinkToOne(path, out _);

    /// <summary>Whether <paramref name="path"/> is a file or a link whose final target is one; a link that cannot be
    /// followed (a loop, no permission) is not, and <paramref name="unfollowable"/> says why.</summary>
    private static bool IsFileOrLinkToOne(string path, out Exception? unfollowable)
    {
        unfollowable = null;
        var info = new FileInfo(path);
        if (!info.Exists)
            return false;
        try
        {
            return info.LinkTarget is null || info.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            unfollowable = e;
            return false;
        }
    }

    /// <summary>The text of a cache file (a ref), or null when there is none.</summary>
    private static string? ReadCacheFile(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unreadable(path, e);
        }
    }

    private static HubException Unreadable(string path, Exception cause) =>
        new(HubErrorKind.Other,
            $"The cache entry '{path}' cannot be read ({cause.Message}): a broken or looping symbolic link? Delete it and run again.", cause);

    /// <summary>
    /// Makes <paramref name="pointerPath"/> a relative symlink to <paramref name="blobPath"/> (<c>../../blobs/&lt;etag&gt;</c>).
    /// Where symlinks fail (Windows without developer mode), a new blob is moved and an old one copied, as huggingface_hub does.
    /// </summary>
    public static void Link(string blobPath, string pointerPath, bool newBlob)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(pointerPath)!);
        File.Delete(pointerPath);
        string relative = Path.GetRelativePath(Path.GetDirectoryName(pointerPath)!, blobPath);
        try
        {
            File.CreateSymbolicLink(pointerPath, relative);
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Delete(pointerPath);
        }
        if (newBlob)
            File.Move(blobPath, pointerPath);
        else
            File.Copy(blobPath, pointerPath);
    }

    /// <summary>
    /// Takes the exclusive lock <c>.locks/models--Org--Name/&lt;etag&gt;.lock</c> (where huggingface_hub puts it;
    /// flock on Unix, like Python's filelock) so that two processes never append to the same <c>.incomplete</c> file.
    /// </summary>
    public async Task<IDisposable> LockBlobAsync(string etag, CancellationToken cancellationToken)
    {
        string lockPath = Path.Combine(CacheDir, ".locks", Path.GetFileName(RepoFolder), etag + ".lock");
        Directory.CreateDirectory(Path.GetDirectoryName(lockPath)!);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (e.HResult == SharingViolation)
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);   // another process holds it
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not contention (a symlink loop, a directory, a read-only file system): waiting would never end.
                throw new HubException(HubErrorKind.Other, $"Cannot open the download lock '{lockPath}': {e.Message}", e);
            }
        }
    }

    // The HResult of .NET's IOException when another handle holds the FileShare.None lock: ERROR_SHARING_VIOLATION on
    // Windows; elsewhere flock's errno, EWOULDBLOCK (11 on Linux, 35 on macOS and the BSDs; measured 11 here).
    private static readonly int SharingViolation =
        OperatingSystem.IsWindows() ? unchecked((int)0x80070020) : OperatingSystem.IsLinux() ? 11 : 35;

    /// <summary>
    /// A repository path (forward slashes) as a relative local path; rejects absolute paths and '..' so that names
    /// from the server (shard lists) cannot escape the cache.
    /// </summary>
    public static string LocalPath(string repoPath)
    {
        if (!IsRepoPath(repoPath))
            throw new HubException(HubErrorKind.Other, $"'{repoPath}' is not a valid file path inside a Hub repository.");
        return Path.Combine(repoPath.Split('/'));
    }

    /// <summary>Whether <paramref name="repoPath"/> is a relative path of forward-slash parts, none empty, '.' or '..'.</summary>
    public static bool IsRepoPath([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] string? repoPath) =>
        !string.IsNullOrEmpty(repoPath) && !Path.IsPathRooted(repoPath) && !repoPath.Contains('\\', StringComparison.Ordinal)
        && repoPath.Split('/').All(p => p.Length > 0 && p != "." && p != "..");

    [GeneratedRegex(@"^[0-9a-f]{40}\z")]
    private static partial Regex CommitPattern();
}
