// Linear warm-up then cosine decay, as transformers' get_cosine_schedule_with_warmup with a floor.
namespace Blip.Engine.Training;

/// <summary>The learning rate at each optimizer step.</summary>
public static class LearningRateSchedule
{
    /// <summary>Learning rate for optimizer step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>:
    /// <c>peak·(step+1)/warmup</c> during warm-up, then <c>min + (peak-min)·½(1+cos(π·progress))</c>.</summary>
    /// <remarks>Warm-up counts from step+1 so that the first update is not made with a zero rate.</remarks>
    public static double At(int step, int totalSteps, int warmupSteps, double peak, double min)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        if (step < warmupSteps) return peak * (step + 1) / warmupSteps;
        int decaySteps = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Min(1.0, (double)(step - warmupSteps) / decaySteps);
        return min + (peak - min) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
