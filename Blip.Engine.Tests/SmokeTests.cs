namespace Blip.Engine.Tests;

/// <summary>The native backend loads (on Debian 12 only after the GLIBCXX marker fix of the build).</summary>
public class SmokeTests
{
    [Test]
    public void Libtorch_2_10_loads_and_computes()
    {
        using var a = ones(2, 2);
        Assert.That(a.sum().item<float>(), Is.EqualTo(4f));
        Assert.That(__version__, Does.StartWith("2.10"));
    }
}
