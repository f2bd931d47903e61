// The one error type of the Hub resolver; Kind says which failure it is, the message names the URL or file.
namespace Blip.Engine.Checkpoints;

/// <summary>What went wrong while resolving or downloading from the Hub.</summary>
public enum HubErrorKind
{
    /// <summary>Any other failure (unexpected HTTP status, missing headers, I/O).</summary>
    Other,

    /// <summary>The repository does not exist or is private (HTTP 404 <c>RepoNotFound</c>).</summary>
    RepositoryNotFound,

    /// <summary>The revision (branch, tag, commit) does not exist (<c>RevisionNotFound</c>).</summary>
    RevisionNotFound,

    /// <summary>A required file is not in the repository (<c>EntryNotFound</c>).</summary>
    EntryNotFound,

    /// <summary>HTTP 401/403: private or gated repository, missing or insufficient token.</summary>
    AccessDenied,

    /// <summary>Offline (or the network failed) and the cache does not hold what is needed.</summary>
    NotCached,

    /// <summary>The endpoint could not be reached (connection refused, DNS, timeout, HTTP 5xx).</summary>
    NetworkUnavailable,

    /// <summary>The downloaded bytes do not match the size or sha256 the Hub announced.</summary>
    IntegrityMismatch,

    /// <summary>A download stopped before its end; the partial file is kept and the next call resumes it.</summary>
    Interrupted,

    /// <summary>The repository only has weights in a format this library does not read.</summary>
    UnsupportedWeights,
}

/// <summary>A failure to resolve a Hub id or download one of its files.</summary>
public sealed class HubException : Exception
{
    /// <summary>Creates an error of kind <see cref="HubErrorKind.Other"/>.</summary>
    public HubException()
    {
    }

    /// <summary>Creates an error of kind <see cref="HubErrorKind.Other"/> with a message.</summary>
    /// <param name="message">What went wrong, naming the URL or file.</param>
    public HubException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an error of kind <see cref="HubErrorKind.Other"/> with a message and its cause.</summary>
    /// <param name="message">What went wrong, naming the URL or file.</param>
    /// <param name="innerException">The underlying error.</param>
    public HubException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an error of the given kind.</summary>
    /// <param name="kind">Which failure this is.</param>
    /// <param name="message">What went wrong, naming the URL or file.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public HubException(HubErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>Which failure this is.</summary>
    public HubErrorKind Kind { get; }
}
