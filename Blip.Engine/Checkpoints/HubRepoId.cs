// Hub repository ids: validation (huggingface_hub's validate_repo_id rules) and the cache folder name.
using System.Text.RegularExpressions;

namespace Blip.Engine.Checkpoints;

/// <summary>Checks Hub repository ids and maps them to cache folder names.</summary>
public static partial class HubRepoId
{
    /// <summary>Longest repository id the Hub accepts.</summary>
    public const int MaxLength = 96;

    /// <summary>Whether <paramref name="repoId"/> is a valid <c>Org/Name</c> (or legacy <c>Name</c>) id.</summary>
    /// <param name="repoId">The id to check.</param>
    public static bool IsValid(string? repoId) =>
        repoId is not null && repoId.Length <= MaxLength && IdPattern().IsMatch(repoId)
        && !repoId.Contains("--", StringComparison.Ordinal) && !repoId.Contains("..", StringComparison.Ordinal)
        && !repoId.EndsWith(".git", StringComparison.Ordinal);

    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="repoId"/> when it is invalid (null: <see cref="ArgumentNullException"/>).</summary>
    /// <param name="repoId">The id to check.</param>
    /// <remarks>
    /// Same rules as huggingface_hub's <c>validate_repo_id</c>: letters, digits, '-', '_', '.'; each part starts and
    /// ends with a letter, digit or '_'; no "--" or ".."; not ending in ".git"; at most 96 characters.
    /// </remarks>
    public static void Validate(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        if (!IsValid(repoId))
            throw new ArgumentException(
                $"'{repoId}' is not a Hub repository id (expected Org/Name: letters, digits, '-', '_', '.', each part " +
                $"starting and ending with a letter or digit, no '--' or '..', at most {MaxLength} characters) " +
                "nor an existing local folder.", nameof(repoId));
    }

    /// <summary>The cache folder of a model repository: <c>models--Org--Name</c>.</summary>
    /// <param name="repoId">A valid repository id.</param>
    public static string CacheFolderName(string repoId)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        return "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^([A-Za-z0-9_]([A-Za-z0-9_.\-]*[A-Za-z0-9_])?/)?[A-Za-z0-9_]([A-Za-z0-9_.\-]*[A-Za-z0-9_])?\z")]
    private static partial Regex IdPattern();
}
