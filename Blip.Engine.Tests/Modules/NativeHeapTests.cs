using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>Returning glibc's free heap to the OS after a process's first large inference forwards, and keeping it
/// from then on.</summary>
[NonParallelizable]
public class NativeHeapTests
{
    [Test]
    public void Returns_freed_heap_pages_that_glibc_kept()
    {
        Assert.That(OperatingSystem.IsLinux(), Is.True, "this test needs Linux (glibc)");
        long released = ReleasedBy(NativeHeap.ReleaseFreeMemory);
        Assert.That(released, Is.GreaterThan(32L << 20), $"released {released >> 20} MB of the ~64 MB freed");
    }

    [Test]
    public void The_heap_is_trimmed_after_the_first_forwards_and_kept_from_the_packing_use_on()
    {
        Assert.That(OperatingSystem.IsLinux(), Is.True, "this test needs Linux (glibc)");
        NativeHeap.Reset();
        try
        {
            for (int forward = 1; forward < NativeHeap.KeepFrom; forward++)
            {
                NativeHeap.AfterForward();
                Assert.That(NativeHeap.Keeps, Is.False, $"forward {forward}: still trimming");
            }

            NativeHeap.AfterForward();
            Assert.That(NativeHeap.Keeps, Is.True, $"forward {NativeHeap.KeepFrom}: glibc took the settings, the heap is kept");
            // Kept: freed heap chunks stay resident after a forward (no malloc_trim), ready for the next one.
            long released = ReleasedBy(NativeHeap.AfterForward);
            Assert.That(released, Is.LessThan(8L << 20), $"released {released >> 20} MB of the ~64 MB freed while the heap is kept");
        }
        finally
        {
            NativeHeap.Reset();
        }
    }

    // Resident bytes that `action` gives back of ~64 MB of freed heap: 2,000 tensors of 64 KB (under glibc's mmap
    // threshold: they live in the heap) with every other one freed, so the free chunks sit between live ones where
    // glibc's own trimming (top of the heap only) cannot reach them.
    private static long ReleasedBy(Action action)
    {
        var tensors = Enumerable.Range(0, 2000).Select(_ => ones(16 * 1024)).ToList();
        for (int i = 0; i < tensors.Count; i += 2) tensors[i].Dispose();
        long before = ProcessMemory.ResidentBytes();
        action();
        long released = before - ProcessMemory.ResidentBytes();
        for (int i = 1; i < tensors.Count; i += 2) tensors[i].Dispose();
        return released;
    }
}
