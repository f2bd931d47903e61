using Blip.Engine.Checkpoints;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Checkpoints;

/// <summary>Pages of the file's map that were copied out leave the resident set, and the file stays readable.</summary>
[NonParallelizable]
public class MappedPagesTests
{
    [Test]
    public void Released_pages_leave_the_resident_set_and_the_file_still_reads_the_same()
    {
        Assert.That(OperatingSystem.IsLinux(), Is.True, "this test needs Linux (madvise)");
        using var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir.Path, "big.safetensors");
        using (var big = torch.arange(16L << 20, dtype: ScalarType.Float32))  // 64 MB
            SafeTensorsWriter.Save(path, [new("w", big)]);
        using var file = SafeTensorsFile.Open(path);
        using var first = file.Load("w");
        long mapped = ProcessMemory.ResidentBytes();
        file.ReleasePages("w");
        long released = mapped - ProcessMemory.ResidentBytes();
        using var again = file.Load("w");
        Assert.Multiple(() =>
        {
            Assert.That(released, Is.GreaterThan(48L << 20), $"released {released >> 20} MB of the 64 MB read through the map");
            Assert.That(again.equal(first).all().item<bool>(), Is.True, "the file reads differently after its pages were released");
            Assert.That(again[(16L << 20) - 1].item<float>(), Is.EqualTo((float)((16L << 20) - 1)));
        });
    }

    [Test]
    public void Releasing_an_unknown_tensor_names_it()
    {
        using var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir.Path, "small.safetensors");
        using (var t = torch.ones(3)) SafeTensorsWriter.Save(path, [new("w", t)]);
        using var file = SafeTensorsFile.Open(path);
        var e = Assert.Throws<CheckpointFormatException>(() => file.ReleasePages("nope"));
        Assert.That(e!.Message, Does.Contain("nope"));
    }
}
