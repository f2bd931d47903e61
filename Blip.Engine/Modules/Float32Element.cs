// float32 elements for the hand-written kernels (IKernelElement).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Blip.Engine.Modules;

/// <summary>float32 values as they are.</summary>
internal readonly struct Float32Element : IKernelElement
{
    public static int Size => sizeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load8(nint p, long k) => Avx.LoadVector256((float*)p + k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> Load16(nint p, long k) => Vector512.Load((float*)p + k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Load1(nint p, long k) => ((float*)p)[k];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(nint p, long k, float value) => ((float*)p)[k] = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store8(nint p, long k, Vector256<float> values) => Avx.Store((float*)p + k, values);
}
