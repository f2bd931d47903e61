// Thrown by a strict StateDictLoader.Load: every key that did not fit, in one message.
namespace Blip.Engine.Checkpoints;

/// <summary>A checkpoint does not fit a module: lists every missing, unexpected and mismatched key.</summary>
public sealed class StateDictMismatchException : CheckpointFormatException
{
    /// <summary>Creates the exception for the checkpoint at <paramref name="filePath"/>.</summary>
    public StateDictMismatchException(string filePath, StateDictLoadReport report)
        : base(filePath, null, "the checkpoint does not fit the module (nothing was loaded):" + Environment.NewLine + report.Describe())
    {
        Report = report;
    }

    /// <summary>The full comparison.</summary>
    public StateDictLoadReport Report { get; }
}
