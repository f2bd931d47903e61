// The one exception type for a checkpoint that cannot be read or does not fit: names file and key.
namespace Blip.Engine.Checkpoints;

/// <summary>
/// A checkpoint file or folder is malformed, lacks a tensor, or does not fit the module it is loaded into.
/// The message names the file, the key (when there is one) and the problem.
/// </summary>
public class CheckpointFormatException : Exception
{
    /// <summary>Creates the exception; the message is built from <paramref name="filePath"/>, <paramref name="key"/> and <paramref name="problem"/>.</summary>
    /// <param name="filePath">The file or folder the problem is in.</param>
    /// <param name="key">The tensor name (or JSON key) concerned, or null when the problem is the whole file.</param>
    /// <param name="problem">What is wrong, in words.</param>
    /// <param name="inner">The exception that revealed the problem, if any.</param>
    public CheckpointFormatException(string filePath, string? key, string problem, Exception? inner = null)
        : base(Compose(filePath, key, problem), inner)
    {
        FilePath = filePath;
        Key = key;
        Problem = problem;
    }

    /// <summary>The file or folder the problem is in.</summary>
    public string FilePath { get; }

    /// <summary>The tensor name or JSON key concerned; null when the problem concerns the whole file.</summary>
    public string? Key { get; }

    /// <summary>The problem alone, without file and key.</summary>
    public string Problem { get; }

    private static string Compose(string filePath, string? key, string problem) =>
        key is null ? $"{filePath}: {problem}" : $"{filePath}: key '{key}': {problem}";
}
