// transformers' BlipTextPredictionHeadTransform (part of the text decoder's LM head).
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>transformers' BlipTextPredictionHeadTransform: LayerNorm(gelu(dense(x))).</summary>
public sealed class BlipTextPredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;

    /// <summary>Creates the transform for <paramref name="config"/>.</summary>
    public BlipTextPredictionHeadTransform(BlipTextConfig config) : base(nameof(BlipTextPredictionHeadTransform))
    {
        ArgumentNullException.ThrowIfNull(config);
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(SkinnyLinear.ForwardGelu(dense, hidden)).MoveToOuterDisposeScope();
    }
}
