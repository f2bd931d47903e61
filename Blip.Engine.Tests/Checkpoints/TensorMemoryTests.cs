// TensorMemory's chunked path (used for tensors over 1 GiB) exercised with tiny chunks, and its size queries.
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

    [Test]
    public void Sizes_and_strides_asked_one_dimension_at_a_time_are_tensor_shape_and_stride()
    {
        using var scope = NewDisposeScope();
        var cases = new[]
        {
            torch.tensor(3.0f),                                                  // 0-dim
            torch.zeros(0, 5),                                                   // no elements
            torch.zeros(2, 577, 768).view(2, 577, 12, 64).transpose(1, 2),       // the image K/V seen as heads
            torch.zeros(3, 1, 768),
        };
        foreach (var t in cases)
        {
            Assert.That(TensorMemory.Shape(t), Is.EqualTo(t.shape), $"shape of [{string.Join(",", t.shape)}]");
            Assert.That(TensorMemory.HasStrides(t, t.stride()), Is.True, $"strides of [{string.Join(",", t.shape)}]");
            Assert.That(TensorMemory.LastSize(t), Is.EqualTo(t.dim() == 0 ? 0 : t.shape[^1]), $"last size of [{string.Join(",", t.shape)}]");
        }

        var heads = cases[2];
        Assert.That(TensorMemory.HasStrides(heads, [577 * 768, 64, 768, 1]), Is.True, "the heads view's strides");
        Assert.That(TensorMemory.HasStrides(heads, [577 * 768, 64, 768]), Is.False, "one stride fewer than dimensions");
        Assert.That(TensorMemory.HasStrides(heads, [577 * 768, 768, 64, 1]), Is.False, "other strides");
        Assert.That(torch.zeros(2, 3).size(-1), Is.EqualTo(3), "size(-1) counts from the end (AttentionMasks relies on it)");
    }
}
