// Hub id -> local snapshot folder of a BLIP model, through the standard Hugging Face cache (the one Python fills):
// reuses what is cached, downloads what is missing, works offline from the cache.
namespace Blip.Engine.Checkpoints;

/// <summary>Resolves a Hub id such as <c>Salesforce/blip-image-captioning-large</c> to a local model folder.</summary>
/// <remarks>
/// Reproduces huggingface_hub's <c>hf_hub_download</c> per file: a HEAD on <c>{endpoint}/{id}/resolve/{revision}/{file}</c>
/// gives the commit (<c>X-Repo-Commit</c>) and blob id (<c>X-Linked-Etag</c> or <c>ETag</c>); the blob is downloaded
/// to <c>blobs/&lt;etag&gt;.incomplete</c>, verified, renamed, and linked from <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c>;
/// <c>refs/&lt;revision&gt;</c> records the commit; a 404 is remembered in <c>.no_exist/&lt;commit&gt;/&lt;file&gt;</c>.
/// After <c>config.json</c> fixes the commit, the other files are requested at that commit so that one snapshot
/// folder holds a consistent model.
/// </remarks>
public sealed class HubModelResolver : IDisposable
{
    private readonly HubHttp _http = new();
    private readonly TextWriter _notes;

    /// <summary>Creates a resolver with its own HTTP client.</summary>
    /// <param name="notes">Where notes go (e.g. "network failed, using the cache"); null for standard error.</param>
    public HubModelResolver(TextWriter? notes = null)
    {
        _notes = notes ?? Console.Error;
    }

    /// <summary>The configuration file every model needs.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>Files fetched when present; a 404 for them is recorded, not an error.</summary>
    public static IReadOnlyList<string> OptionalFiles { get; } =
    [
        "preprocessor_config.json", "processor_config.json", "tokenizer.json", "tokenizer_config.json",
        "vocab.txt", "special_tokens_map.json", "generation_config.json",
    ];

    /// <summary>Weight files in pickle formats this library refuses to read.</summary>
    public static IReadOnlyList<string> UnsupportedWeightFiles { get; } = ["pytorch_model.bin", "pytorch_model.bin.index.json"];

    /// <summary>Returns the local folder of a model: a local directory as is, else the Hub snapshot folder.</summary>
    /// <param name="idOrPath">An existing directory, or a Hub repository id (<c>Org/Name</c>).</param>
    /// <param name="options">Endpoint, cache, token, offline flag and revision, e.g. <see cref="HubOptions.FromEnvironment()"/>.</param>
    /// <param name="progress">Receives download progress; null for none (see <see cref="HubConsoleProgress"/>).</param>
    /// <param name="cancellationToken">Cancels requests and downloads; a partial download is kept for resuming.</param>
    /// <returns>The full path of the folder holding <c>config.json</c>, the weights and the processor files.</returns>
    /// <exception cref="ArgumentException">The argument is neither an existing folder nor a valid repository id, or an option is unusable.</exception>
    /// <exception cref="HubException">The model could not be resolved; <see cref="HubException.Kind"/> says why.</exception>
    public async Task<string> ResolveModelFolderAsync(
        string idOrPath, HubOptions options, IProgress<HubDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrPath);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        if (Directory.Exists(idOrPath))
            return Path.GetFullPath(idOrPath);
        if (LooksLikePath(idOrPath))
            throw new DirectoryNotFoundException($"Model folder '{idOrPath}' does not exist.");
        HubRepoId.Validate(idOrPath);
        var cache = new HubCache(options.CacheDir, idOrPath);
        if (options.Offline)
            return CompleteSnapshot(cache, options, HubCache.PointerExists) ?? throw NotCached(idOrPath, cache, options, "HF_HUB_OFFLINE=1");
        // Online, a link that cannot be followed is not there (os.path.exists), so the download below makes it again.
        // A pinned commit needs no request when every file is known: there, or recorded as missing (hf_hub_download
        // decides per file; a snapshot that Python filled with the model alone lacks the processor's files).
        if (HubCache.IsCommitHash(options.Revision) && CompleteSnapshot(cache, options, HubCache.LeadsToFile) is string pinned
            && OptionalFiles.All(f => HubCache.LeadsToFile(cache.PointerPath(options.Revision, f)) || cache.IsMarkedMissing(options.Revision, f)))
            return pinned;
        try
        {
            return await DownloadSnapshotAsync(idOrPath, cache, options, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (HubException e) when (e.Kind == HubErrorKind.NetworkUnavailable)
        {
            string cached = CompleteSnapshot(cache, options, HubCache.PointerExists) ?? throw NotCached(idOrPath, cache, options, e.Message, e);
            await _notes.WriteLineAsync($"note: {e.Message} Using the cached snapshot {cached}.").ConfigureAwait(false);
            return cached;
        }
        catch (MetadataUnavailableException e)
        {
            string cached = CompleteSnapshot(cache, options, HubCache.PointerExists) ?? throw e.Error;
            await _notes.WriteLineAsync($"note: {e.Error.Message} Using the cached snapshot {cached}.").ConfigureAwait(false);
            return cached;
        }
    }

    /// <summary>Returns the cached path of one file of a repository, downloading it if needed.</summary>
    /// <param name="repoId">A Hub repository id.</param>
    /// <param name="fileName">The file's path in the repository (forward slashes).</param>
    /// <param name="options">Endpoint, cache, token, offline flag and revision.</param>
    /// <param name="progress">Receives download progress; null for none.</param>
    /// <param name="cancellationToken">Cancels the request and download.</param>
    /// <returns>The snapshot path of the file, or null when the repository has no such file (recorded in <c>.no_exist</c>).</returns>
    /// <exception cref="ArgumentException">An argument is null, not a repository id, not a relative file path, or an option is unusable.</exception>
    /// <remarks>Offline, or when the endpoint cannot be reached, the answer comes from the cache as in huggingface_hub.</remarks>
    public async Task<string?> TryDownloadFileAsync(
        string repoId, string fileName, HubOptions options, IProgress<HubDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        HubRepoId.Validate(repoId);
        ArgumentNullException.ThrowIfNull(fileName);
        if (!HubCache.IsRepoPath(fileName))
            throw new ArgumentException(
                $"'{fileName}' is not a file path inside a Hub repository (relative, forward slashes, no empty, '.' or '..' parts).", nameof(fileName));
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(nameof(options));
        var cache = new HubCache(options.CacheDir, repoId);
        string? cached;
        if (options.Offline)
            return TryCached(cache, options.Revision, fileName, out cached) ? cached : throw NotCached(repoId, cache, options, "HF_HUB_OFFLINE=1");
        try
        {
            return (await FetchAsync(repoId, cache, options.Revision, fileName, options, progress, cancellationToken).ConfigureAwait(false)).Path;
        }
        catch (HubException e) when (e.Kind == HubErrorKind.NetworkUnavailable)
        {
            if (!TryCached(cache, options.Revision, fileName, out cached))
                throw NotCached(repoId, cache, options, e.Message, e);
            await _notes.WriteLineAsync($"note: {e.Message} Using the cache for {fileName}.").ConfigureAwait(false);
            return cached;
        }
        catch (MetadataUnavailableException e)
        {
            if (!TryCached(cache, options.Revision, fileName, out cached))
                throw e.Error;
            await _notes.WriteLineAsync($"note: {e.Error.Message} Using the cache for {fileName}.").ConfigureAwait(false);
            return cached;
        }
    }

    /// <summary>A file's metadata request failed in a way huggingface_hub answers from the cache when it can (its
    /// <c>_get_metadata_or_catch_error</c>): an HTTP error such as 401/403 (a token expired or missing for a gated or
    /// private repository), 404 RepoNotFound, 429, or a reply without the Hub's headers (a proxy's page). A revision
    /// or file the Hub says does not exist is not one of them. Without a cached copy, <see cref="Error"/> is thrown.</summary>
    private sealed class MetadataUnavailableException(HubException error) : Exception(error.Message, error)
    {
        public HubException Error { get; } = error;
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();

    private async Task<string> DownloadSnapshotAsync(
        string repoId, HubCache cache, HubOptions options, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        var (commit, config) = await FetchAsync(repoId, cache, options.Revision, ConfigFile, options, progress, ct).ConfigureAwait(false);
        if (config is null)
            throw new HubException(HubErrorKind.EntryNotFound,
                $"Hub repository '{repoId}' has no {ConfigFile} at revision '{options.Revision}': it is not a transformers model.");
        var (_, single) = await FetchAsync(repoId, cache, commit, HubWeightFiles.Single, options, progress, ct).ConfigureAwait(false);
        if (single is null)
        {
            var (_, index) = await FetchAsync(repoId, cache, commit, HubWeightFiles.Index, options, progress, ct).ConfigureAwait(false);
            if (index is null)
                throw await NoWeightsAsync(repoId, commit, options, ct).ConfigureAwait(false);
            foreach (string shard in HubWeightFiles.ReadShardNames(index))
            {
                if ((await FetchAsync(repoId, cache, commit, shard, options, progress, ct).ConfigureAwait(false)).Path is null)
                    throw new HubException(HubErrorKind.EntryNotFound, $"Shard '{shard}' listed in {index} is not in '{repoId}' at commit {commit}.");
            }
        }
        foreach (string optional in OptionalFiles)
            await FetchAsync(repoId, cache, commit, optional, options, progress, ct).ConfigureAwait(false);
        return cache.SnapshotFolder(commit);
    }

    /// <summary>One file as <c>hf_hub_download</c>: returns the commit and the snapshot path (null if the file does not exist).</summary>
    private async Task<(string Commit, string? Path)> FetchAsync(
        string repoId, HubCache cache, string revision, string fileName, HubOptions options, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        HubCache.LocalPath(fileName);
        if (HubCache.IsCommitHash(revision))
        {
            string known = cache.PointerPath(revision, fileName);
            if (HubCache.LeadsToFile(known))
                return (revision, known);
            if (cache.IsMarkedMissing(revision, fileName))
                return (revision, null);
        }
        Uri endpoint = options.EndpointUri();
        var url = new Uri(endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{EscapePath(fileName)}");
        HubRemoteFile remote;
        string commit;
        try
        {
            remote = await _http.HeadAsync(url, repoId, options, ct).ConfigureAwait(false);
            commit = remote.Commit ?? (HubCache.IsCommitHash(revision) ? revision : null)
                ?? throw new HubException(HubErrorKind.Other, $"{url} sent no X-Repo-Commit header: is {options.Endpoint} a Hugging Face Hub?");
            if (!HubCache.IsCommitHash(commit))
                throw new HubException(HubErrorKind.Other, $"{url} sent no valid X-Repo-Commit header ('{commit}'): is {options.Endpoint} a Hugging Face Hub?");
            if (remote.Exists && (remote.Etag is null || !HubWeightFiles.IsSafeEtag(remote.Etag)))
                throw new HubException(HubErrorKind.Other, $"{url} sent no usable ETag ('{remote.Etag}'), so the download cannot be cached reliably.");
        }
        catch (HubException e) when (e.Kind is not (HubErrorKind.NetworkUnavailable or HubErrorKind.RevisionNotFound))
        {
            throw new MetadataUnavailableException(e);
        }
        cache.WriteRef(revision, commit);
        if (!remote.Exists)
        {
            // As huggingface_hub, a cache that cannot be written (another user's, read-only) only loses the note.
            try { cache.MarkMissing(commit, fileName); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return (commit, null);
        }
        return (commit, await StoreAsync(cache, commit, fileName, remote, endpoint, options, progress, ct).ConfigureAwait(false));
    }

    private async Task<string> StoreAsync(
        HubCache cache, string commit, string fileName, HubRemoteFile remote, Uri endpoint, HubOptions options, IProgress<HubDownloadProgress>? progress, CancellationToken ct)
    {
        string pointer = cache.PointerPath(commit, fileName);
        // Already there: no lock, so a cache this process cannot write (another user's, read-only) still serves it.
        if (HubCache.LeadsToFile(pointer))
            return pointer;
        string blob = cache.BlobPath(remote.Etag!);
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        using (await cache.LockBlobAsync(remote.Etag!, ct).ConfigureAwait(false))
        {
            if (HubCache.LeadsToFile(pointer))
                return pointer;
            if (HubCache.LeadsToFile(blob))
            {
                HubCache.Link(blob, pointer, newBlob: false);
                return pointer;
            }
            var download = new HubBlobDownload(_http, options, fileName, progress);
            await download.RunAsync(remote, endpoint, blob + ".incomplete", ct).ConfigureAwait(false);
            File.Move(blob + ".incomplete", blob, overwrite: true);
            HubCache.Link(blob, pointer, newBlob: true);
        }
        return pointer;
    }

    private async Task<HubException> NoWeightsAsync(string repoId, string commit, HubOptions options, CancellationToken ct)
    {
        foreach (string name in UnsupportedWeightFiles)
        {
            var url = new Uri(options.EndpointUri(), $"{repoId}/resolve/{commit}/{name}");
            if ((await _http.HeadAsync(url, repoId, options, ct).ConfigureAwait(false)).Exists)
                return HubWeightFiles.Unsupported(repoId, commit, name);
        }
        return new HubException(HubErrorKind.EntryNotFound,
            $"Hub repository '{repoId}' (commit {commit}) has neither {HubWeightFiles.Single} nor {HubWeightFiles.Index}.");
    }

    /// <summary>Whether the cache knows the file at the revision: its path, or null when recorded as missing.</summary>
    private static bool TryCached(HubCache cache, string revision, string fileName, out string? path)
    {
        path = null;
        string? commit = cache.ResolveCommit(revision);
        if (commit is null)
            return false;
        string pointer = cache.PointerPath(commit, fileName);
        if (HubCache.PointerExists(pointer))
            path = pointer;
        return path is not null || cache.IsMarkedMissing(commit, fileName);
    }

    /// <summary>The snapshot folder if the cache holds config.json and all weights for the revision, else null.
    /// <c>exists</c> says whether a snapshot file is there: <see cref="HubCache.PointerExists"/> (a looping link is an
    /// error naming it) or <see cref="HubCache.LeadsToFile"/> (it is absent, to be made again online).</summary>
    private static string? CompleteSnapshot(HubCache cache, HubOptions options, Func<string, bool> exists)
    {
        string? commit = cache.ResolveCommit(options.Revision);
        if (commit is null || !exists(cache.PointerPath(commit, ConfigFile)))
            return null;
        string folder = cache.SnapshotFolder(commit);
        return HubWeightFiles.HasWeights(folder, cache.RepoFolder, commit, exists) ? folder : null;
    }

    private static HubException NotCached(string repoId, HubCache cache, HubOptions options, string reason, Exception? cause = null) =>
        new(HubErrorKind.NotCached,
            $"'{repoId}' (revision {options.Revision}) is not in the Hugging Face cache at {cache.CacheDir} and {reason.TrimEnd('.')}; " +
            $"run `blip download {repoId}` on a machine with network, or copy its {Path.GetFileName(cache.RepoFolder)} folder there.",
            cause);

    private static bool LooksLikePath(string value) =>
        Path.IsPathRooted(value) || value.StartsWith('.') || value.StartsWith('~') || value.Contains('\\', StringComparison.Ordinal)
        || value.Count(c => c == '/') > 1;

    private static string EscapePath(string fileName) => string.Join('/', fileName.Split('/').Select(Uri.EscapeDataString));
}
