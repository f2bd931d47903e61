// transformers' BlipTextIntermediate: the feed-forward expansion with exact GELU.
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>gelu(dense(x)), <c>[B,T,C] → [B,T,I]</c>.</summary>
public sealed class BlipTextIntermediate : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;

    /// <summary>Creates the block for <paramref name="config"/>.</summary>
    public BlipTextIntermediate(BlipTextConfig config) : base(nameof(BlipTextIntermediate))
    {
        ArgumentNullException.ThrowIfNull(config);
        dense = nn.Linear(config.HiddenSize, config.IntermediateSize);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return SkinnyLinear.ForwardGelu(dense, hidden).MoveToOuterDisposeScope();
    }
}
