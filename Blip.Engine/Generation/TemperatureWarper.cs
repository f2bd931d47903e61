// transformers' TemperatureLogitsWarper.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Divides the scores by the temperature (sampling only).</summary>
/// <remarks>A tiny temperature can overflow float32 to +inf; transformers then fails in multinomial ("probability
/// tensor contains either inf, nan or element &lt; 0"). Here it is an <see cref="ArgumentException"/> naming the option.</remarks>
internal sealed class TemperatureWarper(double temperature) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores)
    {
        var warped = scores / temperature;
        using (var overflow = warped.isposinf().any())
            if (overflow.item<bool>())
                throw GenerationOptions.Invalid(nameof(GenerationOptions.Temperature),
                    $"{temperature:R} overflows the scores to +inf in float32; use a larger temperature");
        return warped;
    }
}
