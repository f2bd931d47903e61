// TensorMemory's chunked path (used for tensors over 1 GiB) exercised with tiny chunks.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class TensorMemoryTests
{
    [TestCase(4)]
    [TestCase(10)]
    [TestCase(1)]
    public void Chunked_write_gives_the_same_bytes(long chunkBytes)
    {
        using var t = torch.arange(37, dtype: ScalarType.Float32).reshape(37, 1);
        using var stream = new MemoryStream();
        TensorMemory.WriteTo(t, stream, chunkBytes);
        Assert.That(stream.ToArray(), Is.EqualTo(t.bytes.ToArray()));
    }
}
