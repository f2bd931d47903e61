// transformers' BlipTextPredictionHeadTransform (part of the text decoder's LM head).
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>transformers' BlipTextPredictionHeadTransform: LayerNorm(act(dense(x))), act the config's hidden_act.</summary>
public sealed class BlipTextPredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly string act;

    /// <summary>Creates the transform for <paramref name="config"/>.</summary>
    public BlipTextPredictionHeadTransform(BlipTextConfig config) : base(nameof(BlipTextPredictionHeadTransform))
    {
        ArgumentNullException.ThrowIfNull(config);
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        act = config.HiddenAct;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(SkinnyLinear.ForwardActivated(dense, hidden, act)).MoveToOuterDisposeScope();
    }
}
