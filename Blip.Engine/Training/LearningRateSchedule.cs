// Linear warm-up then cosine decay to a floor: transformers' get_cosine_with_min_lr_schedule_with_warmup.
namespace Blip.Engine.Training;

/// <summary>The learning rate at each optimizer step.</summary>
public static class LearningRateSchedule
{
    /// <summary>Learning rate for optimizer step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>, as
    /// transformers' <c>get_cosine_with_min_lr_schedule_with_warmup(min_lr=min)</c> sets it for that step's update:
    /// <c>peak·step/warmup</c> during warm-up (so the first update, at step 0, is made with a zero rate, as there), then
    /// <c>peak·(f·(1−r)+r)</c> with <c>f = ½(1+cos(π·progress))</c> and <c>r = min/peak</c>, computed in transformers' order
    /// so that the doubles are the same (Fixtures/training/schedule.json).</summary>
    /// <remarks>Past <paramref name="totalSteps"/> the rate stays at the floor (transformers' cosine would rise again);
    /// the training loop never asks for those steps.</remarks>
    public static double At(int step, int totalSteps, int warmupSteps, double peak, double min)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(totalSteps);
        if (step < warmupSteps) return peak * ((double)step / Math.Max(1, warmupSteps));
        double progress = Math.Min(1.0, (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps));
        double factor = 0.5 * (1.0 + Math.Cos(Math.PI * 0.5 * 2.0 * progress));
        double rate = peak == 0 ? 0 : min / peak;
        return peak * Math.Max(0, factor * (1 - rate) + rate);
    }
}
