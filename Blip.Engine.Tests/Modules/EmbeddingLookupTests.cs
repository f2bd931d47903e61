using Blip.Engine.Modules.Text;
using Blip.Engine.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The managed embedding table that replaced TorchSharp's native Embedding in the text model.</summary>
[NonParallelizable]
public class EmbeddingLookupTests
{
    [Test]
    public void Looks_up_rows_and_trains_like_nn_Embedding()
    {
        using var scope = NewDisposeScope();
        using var table = new EmbeddingLookup(10, 4);
        var ids = tensor(new long[] { 3, 0, 9, 3, 3, 7 }).view(2, 3);
        var output = table.forward(ids);                                          // [2,3,4]
        Assert.That(output.shape, Is.EqualTo(new long[] { 2, 3, 4 }));
        TensorAssert.Equal(table.Weight.detach()[3], output[1, 1].detach(), "row of id 3");
        using var reference = nn.Embedding_from_pretrained(table.Weight.detach().clone(), freeze: false);
        TensorAssert.AllClose(reference.forward(ids), output, 0, what: "lookup vs nn.Embedding");
        output.sum().backward();
        // d(sum)/d(row) = how often the id occurs: 3 → 3, 0/9/7 → 1, the rest 0.
        var counts = table.Weight.grad!.select(1, 0);
        TensorAssert.AllClose(tensor(new float[] { 1, 0, 0, 3, 0, 0, 0, 1, 0, 1 }), counts, 0, what: "gradient per row");
    }

    [Test]
    public void Built_on_the_meta_device_it_allocates_nothing()
    {
        var previous = get_default_device();
        set_default_device(new Device(DeviceType.META));
        try
        {
            using (new EmbeddingLookup(2, 2)) { }  // libtorch's and the JIT's one-time costs, before measuring
            long before = ProcessMemory.ResidentBytes();
            using var table = new EmbeddingLookup(30524, 768);  // BERT's vocabulary: 89 MB in float32
            Assert.That(table.Weight.device_type, Is.EqualTo(DeviceType.META));
            long grown = ProcessMemory.ResidentBytes() - before;
            Assert.That(grown, Is.LessThan(16L << 20), $"resident memory grew by {grown >> 20} MB building a meta table (TorchSharp's Embedding: ~89 MB)");
        }
        finally
        {
            set_default_device(previous);
        }
    }
}
