// Keeps a tensor that outlives the step scope it was made in, freeing the one it replaces.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>State tensors of a search loop: each step's new value leaves the step's dispose scope, the old value is
/// freed at once, so a long generation holds one copy of its state.</summary>
internal static class Slot
{
    public static void Replace(ref Tensor slot, Tensor value)
    {
        if (ReferenceEquals(slot, value)) return;
        value.MoveToOuterDisposeScope();
        slot.Dispose();
        slot = value;
    }
}
