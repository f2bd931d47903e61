using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Forwards free every intermediate tensor: no live tensor handles and no native memory growth.</summary>
[NonParallelizable]
public class MemoryTests
{
    [Test]
    public void Fifty_forwards_leave_tensor_count_and_native_memory_flat()
    {
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        using var pixels = fixtures.Get("pixel_values");
        using var ids = fixtures.Get("captioning.decoder_input_ids");
        using var mask = fixtures.Get("captioning.attention_mask");
        void Forward()
        {
            using var inference = inference_mode();
            using var logits = model.Forward(pixels, ids, mask);
        }
        for (int i = 0; i < 5; i++) Forward();   // warm-up: allocator pools, lazy init
        long liveBefore = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long rssBefore = ProcessMemory.ResidentBytes();
        for (int i = 0; i < 50; i++) Forward();
        long liveAfter = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long growth = ProcessMemory.ResidentBytes() - rssBefore;
        TestContext.Out.WriteLine($"live tensors {liveBefore} -> {liveAfter}; RSS growth over 50 forwards {growth / 1024} KiB");
        Assert.That(liveAfter, Is.EqualTo(liveBefore), "tensors leaked by the forward");
        // One forward allocates ~10 MB of activations; a leak of any of them over 50 runs would exceed this bound.
        Assert.That(growth, Is.LessThan(16L << 20), "native memory grew over 50 forwards");
    }
}
