// Thrown when a training loss stops being a finite number.
namespace Blip.Engine.Training;

/// <summary>A micro-batch's loss was NaN or infinite; the optimizer step it belonged to was not taken, so the weights,
/// the log and the last checkpoint are those of the step before.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for optimizer step <paramref name="step"/> (1-based) of <paramref name="epoch"/>.</summary>
    /// <param name="step">The optimizer step that was not taken.</param>
    /// <param name="epoch">Its epoch (0-based).</param>
    /// <param name="loss">The loss (NaN or ±∞).</param>
    /// <param name="checkpoint">The checkpoint folder to resume from.</param>
    public TrainingDivergedException(int step, int epoch, double loss, string checkpoint)
        : base($"the loss is {loss} at step {step} (epoch {epoch}); the step was not taken. Lower the learning rate, or check the data, and resume from {checkpoint} if it exists")
    {
        Step = step;
        Epoch = epoch;
        Loss = loss;
    }

    /// <summary>The optimizer step that was not taken (1-based).</summary>
    public int Step { get; }

    /// <summary>Its epoch (0-based).</summary>
    public int Epoch { get; }

    /// <summary>The loss (NaN or ±∞).</summary>
    public double Loss { get; }
}
