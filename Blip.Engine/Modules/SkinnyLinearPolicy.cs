// When a decoding-step kernel (SkinnyLinear's linears, CrossStepAttention) runs instead of libtorch.
namespace Blip.Engine.Modules;

/// <summary>Where <see cref="SkinnyLinear"/> (or another decoding-step kernel) runs.</summary>
internal enum SkinnyLinearPolicy
{
    /// <summary>Per dtype, where the kernel was measured faster than libtorch on such a CPU.</summary>
    Auto,

    /// <summary>Wherever the layout allows (float32 or bfloat16, CPU, no autograd, AVX2 + FMA).</summary>
    Always,

    /// <summary>Never: libtorch runs every linear.</summary>
    Never,
}

/// <summary>Reads <see cref="SkinnyLinearPolicy"/> from an environment variable (BLIP_SKINNY_LINEAR by default).</summary>
internal static class SkinnyLinearPolicies
{
    /// <summary>"0" → Never, "1" → Always, unset or "auto" → Auto; anything else is refused, naming the variable.</summary>
    public static SkinnyLinearPolicy Parse(string? value, string variable = "BLIP_SKINNY_LINEAR") => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => SkinnyLinearPolicy.Auto,
        "1" => SkinnyLinearPolicy.Always,
        "0" => SkinnyLinearPolicy.Never,
        _ => throw new ArgumentException($"{variable} must be 0, 1 or auto, got '{value}'", nameof(value)),
    };
}
