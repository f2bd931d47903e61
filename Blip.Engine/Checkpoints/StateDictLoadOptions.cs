// What StateDictLoader tolerates when a file and a module's state dict differ.
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>Options of <see cref="StateDictLoader.Load"/>. The defaults tolerate nothing.</summary>
public sealed record StateDictLoadOptions
{
    /// <summary>
    /// Module keys that may be absent from the file (e.g. a tied decoder weight that transformers 5 does not save).
    /// Default: none.
    /// </summary>
    public Func<string, bool> MayBeAbsentFromFile { get; init; } = static _ => false;

    /// <summary>File keys the module lacks that are ignored (e.g. <c>*.position_ids</c> buffers). Default: none.</summary>
    public Func<string, bool> MayBeExtraInFile { get; init; } = static _ => false;

    /// <summary>
    /// True (default): any missing, unexpected or mis-shaped key throws <see cref="StateDictMismatchException"/>
    /// before anything is copied. False: the keys that fit are loaded and the rest only reported.
    /// </summary>
    public bool Strict { get; init; } = true;

    /// <summary>
    /// When set, the floating-point dtype every floating-point module tensor must already have; one of another dtype
    /// is reported as mismatched (convert the module before loading). File tensors are converted to the module
    /// tensor's dtype while copying either way. Default: null (no check).
    /// </summary>
    public torch.ScalarType? DType { get; init; }
}
