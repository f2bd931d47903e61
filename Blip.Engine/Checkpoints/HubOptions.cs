// Where and how Hub ids resolve: endpoint, cache folder, token, offline flag, revision.
// The environment variables and their precedence follow huggingface_hub's constants.py.
namespace Blip.Engine.Checkpoints;

/// <summary>Settings for resolving a Hugging Face Hub id through the standard Hub cache.</summary>
/// <remarks>
/// <see cref="FromEnvironment()"/> reads the variables huggingface_hub reads (<c>constants.py</c>), with the same
/// precedence, so a cache that Python filled is found and reused. Every property can be overridden with
/// <c>with { ... }</c>.
/// </remarks>
public sealed record HubOptions
{
    /// <summary>The default Hub endpoint, used when <c>HF_ENDPOINT</c> is not set.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>The default revision (branch) to resolve.</summary>
    public const string DefaultRevision = "main";

    /// <summary>Hub base URL without a trailing slash (<c>HF_ENDPOINT</c>, default https://huggingface.co).</summary>
    public string Endpoint { get; init; } = DefaultEndpoint;

    /// <summary>
    /// The hub cache folder holding <c>models--Org--Name</c> folders: <c>HF_HUB_CACHE</c>, else the legacy
    /// <c>HUGGINGFACE_HUB_CACHE</c>, else <c>$HF_HOME/hub</c> (default <c>~/.cache/huggingface/hub</c>).
    /// </summary>
    public string CacheDir { get; init; } = Path.Combine(DefaultHome(Environment.GetEnvironmentVariable), "hub");

    /// <summary>Bearer token sent to the endpoint (<c>HF_TOKEN</c>, else the token file); null sends none.</summary>
    public string? Token { get; init; }

    /// <summary>When true (<c>HF_HUB_OFFLINE=1</c>), only the cache is used and no request is made.</summary>
    public bool Offline { get; init; }

    /// <summary>Branch, tag or full commit hash to resolve (default <c>main</c>).</summary>
    public string Revision { get; init; } = DefaultRevision;

    /// <summary>Timeout of the metadata (HEAD) request (<c>HF_HUB_ETAG_TIMEOUT</c>, default 10 s).</summary>
    public TimeSpan EtagTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for a download's response and then for each of its next bytes (<c>HF_HUB_DOWNLOAD_TIMEOUT</c>, default 10 s).</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Reads the options from the process environment.</summary>
    public static HubOptions FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>Reads the options through <paramref name="getVariable"/> (an environment lookup).</summary>
    /// <param name="getVariable">Returns a variable's value, or null when unset.</param>
    /// <remarks>
    /// As huggingface_hub: <c>HF_HOME</c> defaults to <c>$XDG_CACHE_HOME/huggingface</c> or
    /// <c>~/.cache/huggingface</c>; the hub cache is <c>HF_HUB_CACHE</c> ?? <c>HUGGINGFACE_HUB_CACHE</c> ??
    /// <c>$HF_HOME/hub</c>; the token is <c>HF_TOKEN</c> ?? <c>HUGGING_FACE_HUB_TOKEN</c> ?? the file
    /// <c>HF_TOKEN_PATH</c> ?? <c>$HF_HOME/token</c>; offline is <c>HF_HUB_OFFLINE</c> or
    /// <c>TRANSFORMERS_OFFLINE</c> in {1, ON, YES, TRUE}.
    /// </remarks>
    public static HubOptions FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        string? Get(string name) => string.IsNullOrEmpty(getVariable(name)) ? null : getVariable(name);
        string home = ExpandUser(Get("HF_HOME"), getVariable) ?? DefaultHome(getVariable);
        string cache = ExpandUser(Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE"), getVariable)
            ?? Path.Combine(home, "hub");
        string tokenPath = ExpandUser(Get("HF_TOKEN_PATH"), getVariable) ?? Path.Combine(home, "token");
        return new HubOptions
        {
            Endpoint = (Get("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            CacheDir = cache,
            Token = CleanToken(Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN")) ?? ReadTokenFile(tokenPath),
            Offline = IsTrue(Get("HF_HUB_OFFLINE") ?? Get("TRANSFORMERS_OFFLINE")),
            EtagTimeout = Seconds(Get("HF_HUB_ETAG_TIMEOUT"), "HF_HUB_ETAG_TIMEOUT") ?? TimeSpan.FromSeconds(10),
            DownloadTimeout = Seconds(Get("HF_HUB_DOWNLOAD_TIMEOUT"), "HF_HUB_DOWNLOAD_TIMEOUT") ?? TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>Throws an <see cref="ArgumentException"/> for <paramref name="paramName"/> naming the first unusable property.</summary>
    internal void Validate(string paramName)
    {
        if (string.IsNullOrWhiteSpace(CacheDir))
            throw new ArgumentException(
                $"HubOptions.CacheDir is {(CacheDir is null ? "null" : "empty")}: it must name the hub cache folder (HF_HUB_CACHE).", paramName);
        // A git ref (git check-ref-format) holds no whitespace or control characters either.
        if (!HubCache.IsRepoPath(Revision) || Revision.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new ArgumentException(
                $"HubOptions.Revision '{Revision}' is not a branch, tag or commit (it must be non-empty, with no '..', '\\', whitespace, control characters or empty parts).", paramName);
        foreach (var (name, timeout) in new[] { (nameof(EtagTimeout), EtagTimeout), (nameof(DownloadTimeout), DownloadTimeout) })
        {
            if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
                throw new ArgumentException($"HubOptions.{name} ({timeout}) is not positive.", paramName);
        }
    }

    /// <summary>The endpoint as an absolute http(s) URL ending in '/', ready to resolve repository paths against.</summary>
    /// <exception cref="HubException"><see cref="Endpoint"/> is not an absolute http:// or https:// URL, naming it.</exception>
    internal Uri EndpointUri()
    {
        if (Uri.TryCreate(Endpoint?.TrimEnd('/') + "/", UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
            return uri;
        throw new HubException(HubErrorKind.Other,
            $"The Hub endpoint '{Endpoint}' (HF_ENDPOINT, or HubOptions.Endpoint) is not an absolute http:// or https:// URL such as {DefaultEndpoint}.");
    }

    private static string DefaultHome(Func<string, string?> getVariable)
    {
        string? xdg = getVariable("XDG_CACHE_HOME");
        string cacheRoot = string.IsNullOrEmpty(xdg) ? Path.Combine(UserHome(getVariable), ".cache") : xdg;
        return Path.Combine(ExpandUser(cacheRoot, getVariable)!, "huggingface");
    }

    private static string UserHome(Func<string, string?> getVariable)
    {
        string? home = getVariable("HOME");
        if (string.IsNullOrEmpty(home))
            home = getVariable("USERPROFILE");
        return string.IsNullOrEmpty(home) ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : home;
    }

    private static string? ExpandUser(string? path, Func<string, string?> getVariable)
    {
        if (path is null)
            return null;
        if (path == "~")
            return UserHome(getVariable);
        if (path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
            return Path.Combine(UserHome(getVariable), path[2..]);
        return path;
    }

    private static bool IsTrue(string? value) =>
        value is not null && value.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static string? CleanToken(string? token)
    {
        string? cleaned = token?.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Trim();
        return string.IsNullOrEmpty(cleaned) ? null : cleaned;
    }

    private static string? ReadTokenFile(string path)
    {
        try
        {
            return File.Exists(path) ? CleanToken(File.ReadAllText(path)) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static TimeSpan? Seconds(string? value, string name)
    {
        if (value is null)
            return null;
        if (!double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) || s <= 0)
            throw new ArgumentException($"Environment variable {name}='{value}' is not a positive number of seconds.", nameof(value));
        return TimeSpan.FromSeconds(s);
    }
}
