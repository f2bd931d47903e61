// transformers' BlipTextOutput: the feed-forward contraction, residual, post-LN.
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>LayerNorm(dense(h) + input), <c>[B,T,I] → [B,T,C]</c>.</summary>
public sealed class BlipTextOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm LayerNorm;
    private readonly Dropout dropout;

    /// <summary>Creates the block for <paramref name="config"/>.</summary>
    public BlipTextOutput(BlipTextConfig config) : base(nameof(BlipTextOutput))
    {
        ArgumentNullException.ThrowIfNull(config);
        dense = nn.Linear(config.IntermediateSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor intermediate, Tensor input)
    {
        using var scope = NewDisposeScope();
        return LayerNorm.forward(dropout.forward(SkinnyLinear.Forward(dense, intermediate)) + input).MoveToOuterDisposeScope();
    }
}
