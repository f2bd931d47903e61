// transformers' BlipTextSelfOutput: the attention's output dense, residual, post-LN.
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>LayerNorm(dense(context) + input), <c>[B,T,C] → [B,T,C]</c>.</summary>
public sealed class BlipTextSelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;
    private readonly double eps;

    /// <summary>Creates the block for <paramref name="config"/>.</summary>
    public BlipTextSelfOutput(BlipTextConfig config) : base(nameof(BlipTextSelfOutput))
    {
        ArgumentNullException.ThrowIfNull(config);
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        eps = config.LayerNormEps;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor context, Tensor input)
    {
        using var scope = NewDisposeScope();
        var projected = SkinnyLinear.Forward(dense, context);
        if (!training) return FewRowLayerNorm.AddNormInPlace(LayerNorm, eps, projected, input).MoveToOuterDisposeScope();
        return LayerNorm.forward(dropout.forward(projected) + input).MoveToOuterDisposeScope();
    }
}
