// Where and how Hub ids resolve: endpoint, cache folder, token, offline flag, revision.
// The environment variables and their precedence follow huggingface_hub's constants.py.
using System.Text.RegularExpressions;

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
    public string CacheDir { get; init; } = Folders(Environment.GetEnvironmentVariable).CacheDir;

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
    /// <c>~/.cache/huggingface</c>, and the folders expand <c>~</c>, <c>$NAME</c> and <c>${NAME}</c> (see
    /// <see cref="Folders"/>); an empty variable counts as unset; the hub cache is <c>HF_HUB_CACHE</c> ?? <c>HUGGINGFACE_HUB_CACHE</c> ??
    /// <c>$HF_HOME/hub</c>; the token is <c>HF_TOKEN</c> ?? <c>HUGGING_FACE_HUB_TOKEN</c> ?? the file
    /// <c>HF_TOKEN_PATH</c> ?? <c>$HF_HOME/token</c>; offline is <c>HF_HUB_OFFLINE</c> or
    /// <c>TRANSFORMERS_OFFLINE</c> in {1, ON, YES, TRUE}.
    /// </remarks>
    public static HubOptions FromEnvironment(Func<string, string?> getVariable)
    {
        ArgumentNullException.ThrowIfNull(getVariable);
        string? Get(string name) => NonEmpty(getVariable, name);
        var (_, cache, tokenPath) = Folders(getVariable);
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

    /// <summary>HF_HOME, the hub cache and the token file as huggingface_hub's constants.py derives them: each is
    /// <c>expandvars(expanduser(...))</c> of its variable or its default, and the defaults of the last two are the
    /// expanded HF_HOME joined with "hub" and "token" (so they are expanded twice, as there).</summary>
    internal static (string Home, string CacheDir, string TokenPath) Folders(Func<string, string?> getVariable)
    {
        string? Get(string name) => NonEmpty(getVariable, name);
        string Expand(string path) => ExpandVars(ExpandUser(path, getVariable)!, getVariable);
        string home = Expand(Get("HF_HOME") ?? Path.Combine(Get("XDG_CACHE_HOME") ?? Path.Combine(UserHome(getVariable), ".cache"), "huggingface"));
        string cache = Expand(Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE") ?? Path.Combine(home, "hub"));
        string tokenPath = Expand(Get("HF_TOKEN_PATH") ?? Path.Combine(home, "token"));
        return (home, cache, tokenPath);
    }

    // A variable's value; null when unset or empty.
    private static string? NonEmpty(Func<string, string?> getVariable, string name) =>
        getVariable(name) is { Length: > 0 } value ? value : null;

    // A $NAME (ASCII letters, digits, '_') or ${NAME}, as Python's posixpath.expandvars finds them.
    private static readonly Regex VariableReference = new(@"\$([A-Za-z0-9_]+|\{[^}]*\})", RegexOptions.CultureInvariant);

    // Python's posixpath.expandvars, which huggingface_hub applies to its folders: each $NAME or ${NAME} that is set
    // becomes its value (not expanded again); one that is unset (or empty-named, "${}") stays as written. Written here
    // because .NET's Environment.ExpandEnvironmentVariables expands %NAME% only. The POSIX rules hold on every OS
    // (Python on Windows would also expand %NAME%).
    internal static string ExpandVars(string path, Func<string, string?> getVariable)
    {
        if (!path.Contains('$'))
            return path;
        int i = 0;
        while (VariableReference.Match(path, i) is { Success: true } m)
        {
            string name = m.Groups[1].Value;
            if (name.StartsWith('{') && name.EndsWith('}'))
                name = name[1..^1];
            string? value = name.Length == 0 ? null : getVariable(name);
            if (value is null)
            {
                i = m.Index + m.Length;
                continue;
            }
            string tail = path[(m.Index + m.Length)..];
            path = path[..m.Index] + value;
            i = path.Length;
            path += tail;
        }
        return path;
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
