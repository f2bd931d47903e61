using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Support;

/// <summary>The tiny random models and the outputs transformers computed for them
/// (<c>Fixtures/tiny</c>, written by <c>tools/reference/make_fixtures.py</c>).</summary>
public sealed class TinyFixtures : IDisposable
{
    private readonly SafeTensorsFile expected;
    private readonly string set;

    /// <summary>Opens <c>Fixtures/tiny/expected.safetensors</c>.</summary>
    public TinyFixtures() : this("tiny")
    {
    }

    /// <summary>Opens <c>Fixtures/<paramref name="set"/>/expected.safetensors</c>: another script's outputs on the same
    /// tiny models (e.g. "batch", make_batch_fixtures.py).</summary>
    public TinyFixtures(string set)
    {
        this.set = set;
        expected = SafeTensorsFile.Open(TestPaths.Fixture(set, "expected.safetensors"));
    }

    /// <summary>The model folder of <paramref name="name"/> (captioning, retrieval, vqa).</summary>
    public static string ModelFolder(string name) => TestPaths.Fixture("tiny", name);

    /// <summary>An expected tensor by its name in expected.safetensors; fails the test when absent.</summary>
    public Tensor Get(string name)
    {
        if (!expected.Tensors.ContainsKey(name))
            Assert.Fail($"{set}/expected.safetensors has no tensor '{name}' (regenerate the fixtures)");
        return expected.Load(name);
    }

    /// <inheritdoc/>
    public void Dispose() => expected.Dispose();
}
