// The captioning LM loss of one batch, as transformers' forward with labels computes it.
using Blip.Engine.Models;
using Blip.Engine.Modules.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>The captioning loss: teacher-forced decoder logits, then logits[:, :-1] against labels[:, 1:].</summary>
public static class CaptionLoss
{
    /// <summary>Mean cross-entropy over the labels that are not -100 (a scalar that carries gradients).</summary>
    /// <param name="model">The captioning model (train or eval mode as the caller set it).</param>
    /// <param name="pixelValues">[B,3,H,W] preprocessed images.</param>
    /// <param name="targets">Inputs and labels from <see cref="CaptionTargets.Build"/>.</param>
    /// <param name="settings">The recipe; its smoothing, or the config's when null.</param>
    public static Tensor Compute(BlipForConditionalGeneration model, Tensor pixelValues, CaptionTargets targets, CaptionLossSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(settings);
        using var scope = NewDisposeScope();
        var logits = model.Forward(pixelValues, targets.InputIds, targets.AttentionMask); // [B,T,V]
        double smoothing = settings.LabelSmoothing ?? model.Config.TextConfig.LabelSmoothing;
        return BlipTextLMHeadModel.Loss(logits, targets.Labels, smoothing).MoveToOuterDisposeScope();
    }
}
