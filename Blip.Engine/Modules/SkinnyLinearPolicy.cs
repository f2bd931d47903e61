// When the few-row linear kernel (SkinnyLinear) takes a decoding step's linears instead of libtorch.
namespace Blip.Engine.Modules;

/// <summary>Where <see cref="SkinnyLinear"/> runs.</summary>
internal enum SkinnyLinearPolicy
{
    /// <summary>Per dtype, where the kernel was measured faster than libtorch on such a CPU.</summary>
    Auto,

    /// <summary>Wherever the layout allows (float32 or bfloat16, CPU, no autograd, AVX2 + FMA).</summary>
    Always,

    /// <summary>Never: libtorch runs every linear.</summary>
    Never,
}

/// <summary>Reads <see cref="SkinnyLinearPolicy"/> from the environment variable BLIP_SKINNY_LINEAR.</summary>
internal static class SkinnyLinearPolicies
{
    /// <summary>"0" → Never, "1" → Always, unset or "auto" → Auto; anything else is refused, naming the variable.</summary>
    public static SkinnyLinearPolicy Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => SkinnyLinearPolicy.Auto,
        "1" => SkinnyLinearPolicy.Always,
        "0" => SkinnyLinearPolicy.Never,
        _ => throw new ArgumentException($"BLIP_SKINNY_LINEAR must be 0, 1 or auto, got '{value}'", nameof(value)),
    };
}
