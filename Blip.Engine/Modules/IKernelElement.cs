// How the hand-written kernels (SkinnyLinear, CachedStepAttention, FewRowLayerNorm) read and write tensors of one
// element type. Static abstract members: the JIT compiles one copy of a kernel per element type, loads inlined.
// Load8/Store8 use AVX2, Load16 AVX-512 (their callers check it).
using System.Runtime.Intrinsics;

namespace Blip.Engine.Modules;

/// <summary>Reads and writes of one element type, widened to and narrowed from float32.</summary>
internal interface IKernelElement
{
    static abstract int Size { get; }

    static abstract Vector256<float> Load8(nint p, long k);

    static abstract Vector512<float> Load16(nint p, long k);

    static abstract float Load1(nint p, long k);

    static abstract void Store(nint p, long k, float value);

    static abstract void Store8(nint p, long k, Vector256<float> values);
}
