// transformers' TemperatureLogitsWarper.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Divides the scores by the temperature (sampling only).</summary>
internal sealed class TemperatureWarper(double temperature) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores) => scores / temperature;
}
