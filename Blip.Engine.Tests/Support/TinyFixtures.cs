using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Support;

/// <summary>The tiny random models and the outputs transformers computed for them
/// (<c>Fixtures/tiny</c>, written by <c>tools/reference/make_fixtures.py</c>).</summary>
public sealed class TinyFixtures : IDisposable
{
    private readonly SafeTensorsFile expected;

    /// <summary>Opens <c>Fixtures/tiny/expected.safetensors</c>.</summary>
    public TinyFixtures() => expected = SafeTensorsFile.Open(TestPaths.Fixture("tiny", "expected.safetensors"));

    /// <summary>The model folder of <paramref name="name"/> (captioning, retrieval, vqa).</summary>
    public static string ModelFolder(string name) => TestPaths.Fixture("tiny", name);

    /// <summary>An expected tensor by its name in expected.safetensors; fails the test when absent.</summary>
    public Tensor Get(string name)
    {
        if (!expected.Tensors.ContainsKey(name))
            Assert.Fail($"expected.safetensors has no tensor '{name}' (regenerate the fixtures)");
        return expected.Load(name);
    }

    /// <inheritdoc/>
    public void Dispose() => expected.Dispose();
}
