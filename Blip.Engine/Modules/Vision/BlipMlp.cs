// transformers' BlipMLP: fc1, the config's activation (exact GELU in BLIP), fc2.
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>The vision encoder's feed-forward block, <c>[B,S,C] → [B,S,C]</c>.</summary>
public sealed class BlipMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;  // [I,C]
    private readonly Linear fc2;  // [C,I]
    private readonly string act;

    /// <summary>Creates the block for <paramref name="config"/>'s sizes.</summary>
    public BlipMlp(BlipVisionConfig config) : base(nameof(BlipMlp))
    {
        ArgumentNullException.ThrowIfNull(config);
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize);
        act = config.HiddenAct;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hiddenStates)
    {
        using var scope = NewDisposeScope();
        // Row-wise throughout, so a group of rows runs fc1, the activation and fc2 alone (PackedRowGroups): only fc2's
        // narrower outputs are joined.
        return PackedRowGroups.Run(fc1, hiddenStates,
                rows => PackedRowGroups.GroupLinear(fc2, Activation.Apply(act, PackedRowGroups.GroupLinear(fc1, rows))))
            .MoveToOuterDisposeScope();    }
}
