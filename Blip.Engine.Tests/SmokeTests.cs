namespace Blip.Engine.Tests;

public class SmokeTests
{
    [Test]
    public void Torch_loads() => Assert.That(Blip.Engine.Checkpoints.TorchRuntime.Probe(), Does.Contain("sum=4"));
}
