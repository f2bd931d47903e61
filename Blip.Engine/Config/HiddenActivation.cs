// The names a config's hidden_act may take: transformers' ACT2FN, less the activations with learnable weights.
namespace Blip.Engine.Config;

/// <summary>The <c>hidden_act</c> values of <c>config.json</c> that Blip.Engine runs (<c>Modules/Activation.cs</c>),
/// each as transformers' <c>ACT2FN</c> defines it.</summary>
/// <remarks>BLIP's vision MLP, its text feed-forward and its LM head transform all take the activation by this name.
/// Every real BLIP checkpoint says <c>gelu</c> (exact, erf-based).</remarks>
public static class HiddenActivation
{
    /// <summary>Names transformers 5.12's ACT2FN knows and Blip.Engine implements.</summary>
    public static IReadOnlyList<string> Supported { get; } =
    [
        "gelu", "gelu_python", "gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_fast", "gelu_accurate", "gelu_10",
        "quick_gelu", "relu", "relu2", "relu6", "leaky_relu", "silu", "swish", "mish", "tanh", "sigmoid", "linear",
        "hardswish", "laplace", "sqrtsoftplus",
    ];

    /// <summary>Names ACT2FN knows whose modules hold weights of their own (nn.PReLU, xIELU): BLIP checkpoints hold
    /// none, so transformers would draw them at random.</summary>
    public static IReadOnlyList<string> Learnable { get; } = ["prelu", "xielu"];

    internal static void Require(string file, string field, string? value)
    {
        if (value is not null && Supported.Contains(value)) return;
        if (value is not null && Learnable.Contains(value))
            throw new ConfigException(file, field,
                $"activation '{value}' has learnable weights that no BLIP checkpoint holds (transformers would draw them at random); Blip.Engine does not implement it");
        throw new ConfigException(file, field,
            $"activation '{value}' is not one of transformers' ACT2FN names (transformers refuses it too); BLIP uses 'gelu'");
    }
}
