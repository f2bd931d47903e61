// Shapes as text for messages.
namespace Blip.Engine.Checkpoints;

internal static class ShapeFormat
{
    /// <summary>Formats a shape like Python does: <c>[3, 4]</c>, <c>[]</c> for a scalar.</summary>
    public static string Of(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
