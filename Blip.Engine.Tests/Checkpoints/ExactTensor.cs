// Bit-exact tensor comparison for checkpoint round trips.
namespace Blip.Engine.Tests.Checkpoints;

internal static class ExactTensor
{
    /// <summary>Asserts same dtype, shape and bytes (so every value is bit-identical).</summary>
    public static void AreEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.That(actual.dtype, Is.EqualTo(expected.dtype), $"{what}: dtype");
        Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        using var e = expected.cpu().contiguous();
        using var a = actual.cpu().contiguous();
        Assert.That(a.bytes.ToArray(), Is.EqualTo(e.bytes.ToArray()), $"{what}: bytes");
    }
}
