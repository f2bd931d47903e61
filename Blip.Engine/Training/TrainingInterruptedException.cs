// Thrown when a training run stops on a failure of its data or of a micro-batch, after saving what it had done.
namespace Blip.Engine.Training;

/// <summary>A batch could not be loaded (e.g. an image that does not decode) or its forward/backward pass failed, or
/// the end-of-epoch evaluation failed; the run saved its last completed optimizer step to <see cref="Checkpoint"/>
/// (when no checkpoint held it yet) and stopped.
/// <see cref="Exception.InnerException"/> is the failure itself. Fix its cause (the file at the same path: the saved
/// position counts batches into the same examples) and resume.</summary>
public sealed class TrainingInterruptedException : Exception
{
    /// <summary>Creates the exception for a failure in <paramref name="epoch"/> after <paramref name="completedSteps"/>.</summary>
    /// <param name="completedSteps">Optimizer steps taken before the failure.</param>
    /// <param name="epoch">The epoch it happened in (0-based).</param>
    /// <param name="checkpoint">The checkpoint folder holding step <paramref name="completedSteps"/>, or null when none does.</param>
    /// <param name="saveFailure">Why saving that checkpoint failed, or null.</param>
    /// <param name="inner">The failure.</param>
    public TrainingInterruptedException(int completedSteps, int epoch, string? checkpoint, Exception? saveFailure, Exception inner)
        : base(Describe(completedSteps, epoch, checkpoint, saveFailure, inner), inner)
    {
        CompletedSteps = completedSteps;
        Epoch = epoch;
        Checkpoint = checkpoint;
    }

    /// <summary>Optimizer steps taken before the failure.</summary>
    public int CompletedSteps { get; }

    /// <summary>The epoch the failure happened in (0-based).</summary>
    public int Epoch { get; }

    /// <summary>The checkpoint folder that holds <see cref="CompletedSteps"/> (resume from it), or null when none does.</summary>
    public string? Checkpoint { get; }

    private static string Describe(int steps, int epoch, string? checkpoint, Exception? saveFailure, Exception inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        string where = $"training stopped in epoch {epoch} after step {steps}";
        string saved = saveFailure is not null ? $"saving step {steps} failed too ({saveFailure.Message})"
            : checkpoint is null ? "no step was completed, so there is nothing to resume"
            : $"step {steps} is saved in {checkpoint}: fix the cause and resume from it";
        return $"{inner.Message} ({where}; {saved})";
    }
}
