// Python's safetensors.safe_open reads what SafeTensorsWriter writes (runs the Python reference).
using Blip.Engine.Checkpoints;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Checkpoints;

[Category("Reference")]
public sealed class SafeTensorsReferenceTests : CheckpointTestBase
{
    [Test]
    public void Python_safe_open_reads_our_file()
    {
        string ours = Path.Combine(Dir, "ours.safetensors");
        using (var file = SafeTensorsFile.Open(FixturePath("python_written.safetensors")))
        {
            var tensors = file.Tensors.Keys.Select(k => new KeyValuePair<string, Tensor>(k, file.Load(k))).ToList();
            SafeTensorsWriter.Save(ours, tensors);
            tensors.ForEach(t => t.Value.Dispose());
        }
        var (exitCode, output) = ReferencePython.Run("tools/reference/make_safetensors_fixture.py", "--check", ours);
        Assert.That(exitCode, Is.Zero, output);
        Assert.That(output, Does.Contain("OK"));
    }
}
