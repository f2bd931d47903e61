// What a safetensors header says about one tensor.
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>One tensor entry of a safetensors header, validated.</summary>
/// <param name="Name">The tensor's key in the file.</param>
/// <param name="DType">The element type stored in the file.</param>
/// <param name="Shape">The dimensions; empty for a scalar.</param>
/// <param name="Begin">First byte of the data, counted from the start of the file.</param>
/// <param name="End">One past the last byte of the data, counted from the start of the file.</param>
public sealed record SafeTensorInfo(string Name, torch.ScalarType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of bytes of data (<see cref="End"/> − <see cref="Begin"/>).</summary>
    public long ByteLength => End - Begin;

    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as text, like <c>[3, 4]</c>, for messages.</summary>
    public string ShapeText => ShapeFormat.Of(Shape);
}
