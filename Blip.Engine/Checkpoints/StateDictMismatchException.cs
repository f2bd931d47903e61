// Thrown when a checkpoint's tensors do not fit a module strictly; carries the full comparison.
namespace Blip.Engine.Checkpoints;

/// <summary>A checkpoint's tensor names or shapes do not fit the module; nothing was loaded.</summary>
public sealed class StateDictMismatchException : CheckpointFormatException
{
    /// <summary>Keys listed per group in the message; <see cref="Report"/> has them all.</summary>
    public const int KeysShown = 20;

    /// <summary>Creates the exception for the checkpoint at <paramref name="filePath"/>.</summary>
    /// <param name="filePath">The checkpoint file.</param>
    /// <param name="report">The comparison.</param>
    /// <param name="hint">What the mismatch most likely means (e.g. a checkpoint of another task), or null.</param>
    public StateDictMismatchException(string filePath, StateDictLoadReport report, string? hint = null)
        : base(filePath, null, Headline(hint) + ":" + Environment.NewLine
            + (report ?? throw new ArgumentNullException(nameof(report))).Describe(KeysShown))
    {
        Report = report;
        Hint = hint;
    }

    /// <summary>What the mismatch most likely means, or null.</summary>
    public string? Hint { get; }

    /// <summary>The full comparison.</summary>
    public StateDictLoadReport Report { get; }

    /// <summary>The message on one line, with at most <paramref name="keysShown"/> keys a group (a command line's error;
    /// <see cref="Exception.Message"/> lists <see cref="KeysShown"/> a group, one a line).</summary>
    public string Summary(int keysShown) => $"{FilePath}: {Headline(Hint)}: {Report.Summarize(keysShown)}";

    private static string Headline(string? hint) =>
        "the checkpoint does not fit the module (nothing was loaded)" + (hint is null ? "" : ": " + hint);
}
