// transformers' ACT2FN activations by name, for the hidden_act of a config (Config/HiddenActivation.cs).
using Blip.Engine.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Applies the activation a config names, as transformers' <c>activations.py</c> computes it.</summary>
public static class Activation
{
    /// <summary>Whether <paramref name="name"/> is the exact (erf) GELU that the fused kernels compute.</summary>
    public static bool IsExactGelu(string name) => name == "gelu";

    /// <summary><paramref name="name"/>(<paramref name="x"/>), a new tensor.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="HiddenActivation.Supported"/>.</exception>
    public static Tensor Apply(string name, Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        using var scope = NewDisposeScope();
        return Compute(name, x).MoveToOuterDisposeScope();
    }

    private static Tensor Compute(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),
        "gelu_python" => x * 0.5 * (1.0 + (x / Math.Sqrt(2.0)).erf()),
        "gelu_10" => nn.functional.gelu(x).clamp(-10, 10),
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_python_tanh" or "gelu_accurate" =>
            0.5 * x * (1.0 + (Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x.pow(3.0))).tanh()),
        "gelu_fast" => 0.5 * x * (1.0 + (x * 0.7978845608 * (1.0 + 0.044715 * x * x)).tanh()),
        "quick_gelu" => x * (1.702 * x).sigmoid(),
        "relu" => x.relu(),
        "relu2" => x.relu().square(),
        "relu6" => nn.functional.relu6(x),
        "leaky_relu" => nn.functional.leaky_relu(x, 0.01),
        "silu" or "swish" => nn.functional.silu(x),
        "mish" => x * nn.functional.softplus(x).tanh(),
        "tanh" => x.tanh(),
        "sigmoid" => x.sigmoid(),
        "linear" => x.alias(),
        "hardswish" => nn.functional.hardswish(x),
        "laplace" => 0.5 * (1.0 + ((x - 0.707107) / (0.282095 * Math.Sqrt(2.0))).erf()),
        "sqrtsoftplus" => nn.functional.softplus(x).sqrt(),
        _ => throw new ArgumentException($"activation '{name}' is not one of {string.Join(", ", HiddenActivation.Supported)}", nameof(name)),
    };
}
