namespace Blip.Engine.Checkpoints;

/// <summary>Placeholder while scaffolding.</summary>
public static class TorchRuntime
{
    /// <summary>Returns libtorch's version string after a trivial op.</summary>
    public static string Probe()
    {
        using var a = TorchSharp.torch.ones(2, 2);
        return TorchSharp.torch.__version__ + " sum=" + a.sum().item<float>();
    }
}
