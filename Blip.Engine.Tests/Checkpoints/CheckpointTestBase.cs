// Base of checkpoint tests: a temp folder per test, hand-made safetensors bytes, fixture paths.
using System.Buffers.Binary;
using System.Text;

namespace Blip.Engine.Tests.Checkpoints;

/// <summary>Base for tests that write files: each test gets an empty temp folder, removed afterwards.</summary>
public abstract class CheckpointTestBase
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void MakeDir()
    {
        Dir = Path.Combine(Path.GetTempPath(), "blip-ckpt-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
    }

    [TearDown]
    public void RemoveDir() => Directory.Delete(Dir, recursive: true);

    /// <summary>Writes a safetensors file from a header (JSON text) and raw data bytes.</summary>
    protected string WriteSafeTensors(string name, string header, int dataBytes = 0)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return WriteRaw(name, bytes);
    }

    protected string WriteRaw(string name, byte[] bytes)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    protected static string FixturePath(string name) =>
        Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", "safetensors", name);
}
