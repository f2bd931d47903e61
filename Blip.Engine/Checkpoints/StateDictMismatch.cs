// One key whose file tensor does not fit the module tensor.
namespace Blip.Engine.Checkpoints;

/// <summary>A module key whose file tensor does not fit it.</summary>
/// <param name="Key">The module (and file) key.</param>
/// <param name="FileShape">The tensor's shape in the file.</param>
/// <param name="ModuleShape">The module tensor's shape.</param>
/// <param name="Problem">What differs, in words.</param>
public sealed record StateDictMismatch(string Key, long[] FileShape, long[] ModuleShape, string Problem);
