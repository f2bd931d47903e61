// transformers' BlipTextIntermediate: the feed-forward expansion with the config's activation (exact GELU in BLIP).
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>act(dense(x)), <c>[B,T,C] → [B,T,I]</c>.</summary>
public sealed class BlipTextIntermediate : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly string act;

    /// <summary>Creates the block for <paramref name="config"/>.</summary>
    public BlipTextIntermediate(BlipTextConfig config) : base(nameof(BlipTextIntermediate))
    {
        ArgumentNullException.ThrowIfNull(config);
        dense = nn.Linear(config.HiddenSize, config.IntermediateSize);
        act = config.HiddenAct;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return SkinnyLinear.ForwardActivated(dense, hidden, act).MoveToOuterDisposeScope();
    }
}
