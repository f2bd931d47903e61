// The exact GELU, x·Φ(x) = x·½·erfc(−x/√2), on eight float32 lanes, for the few-row kernel's epilogue (SkinnyLinear).
// Written by hand because .NET has no erf or erfc (neither scalar nor vector), and a scalar double erf from a numerics
// library costs more per element than the libtorch call it replaces. erfc is the Chebyshev fit of Numerical Recipes
// (§6.2, "erfcc": relative error below 1.2e-7 for every argument ≥ 0), with .NET's own Vector256.Exp. It is evaluated
// at |x|/√2 only, so neither side cancels: for x < 0, gelu = x·½·erfc(|x|/√2) keeps its relative accuracy far into
// the tail, where 1 + erf(x/√2) (libtorch's form) loses it; for x ≥ 0, gelu = x − x·½·erfc(x/√2).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Blip.Engine.Modules;

/// <summary>GELU with erf, vectorised.</summary>
internal static class GeluMath
{
    /// <summary>gelu(x) lane by lane; NaN stays NaN, ±∞ go to +∞ and 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exact(Vector256<float> x)
    {
        var z = Vector256.Abs(x) * Vector256.Create(0.70710678118654752f);        // |x|/√2
        var t = Vector256<float>.One / (Vector256<float>.One + (Vector256.Create(0.5f) * z));
        var p = Vector256.Create(0.17087277f);
        p = (p * t) + Vector256.Create(-0.82215223f);
        p = (p * t) + Vector256.Create(1.48851587f);
        p = (p * t) + Vector256.Create(-1.13520398f);
        p = (p * t) + Vector256.Create(0.27886807f);
        p = (p * t) + Vector256.Create(-0.18628806f);
        p = (p * t) + Vector256.Create(0.09678418f);
        p = (p * t) + Vector256.Create(0.37409196f);
        p = (p * t) + Vector256.Create(1.00002368f);
        p = (p * t) + Vector256.Create(-1.26551223f);
        var half = Vector256.Create(0.5f) * t * Vector256.Exp(p - (z * z));       // ½·erfc(|x|/√2) = Φ(−|x|)
        // x·Φ(−|x|); beyond |x| = 16 Φ(−|x|) is 0 in float32, and clamping x there keeps ∞·0 from becoming NaN.
        var tail = Vector256.Min(Vector256.Max(x, Vector256.Create(-16f)), Vector256.Create(16f)) * half;
        // x ≥ 0: x·Φ(x) = x − x·Φ(−x); x < 0 (and NaN): x·Φ(−|x|) directly.
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<float>.Zero), x - tail, tail);
    }
}
