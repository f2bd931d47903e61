// What the vision encoder returns: the whole sequence and the pooled token.
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Vision;

/// <summary>The outputs of <see cref="BlipVisionModel"/>; owns both tensors.</summary>
/// <param name="LastHiddenState">[B,S,C], post_layernorm applied once to the whole sequence.</param>
/// <param name="PooledOutput">[B,C], post_layernorm applied again to token 0 (as transformers does).</param>
public sealed record VisionOutput(Tensor LastHiddenState, Tensor PooledOutput) : IDisposable
{
    /// <summary>Moves both tensors out of the current dispose scope.</summary>
    internal VisionOutput MoveToOuterDisposeScope()
    {
        LastHiddenState.MoveToOuterDisposeScope();
        PooledOutput.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        LastHiddenState.Dispose();
        PooledOutput.Dispose();
    }
}
