// The vector width of the hand-written kernels' sums (SkinnyLinear, CrossStepAttention): one copy of each sum, compiled
// by the JIT once per width and element type (static abstract members of a struct type argument are inlined, so Width256 is AVX2 + FMA
// and Width512 AVX-512 instructions, as if written out). Callers check the instruction set first.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Blip.Engine.Modules;

/// <summary>float32 lanes of one vector width: loads (weights of the width's element type, widened), fused
/// multiply-add, sums. The element type is the width struct's type argument rather than a generic method's: the JIT
/// inlines a non-generic static member of a struct type argument, not always a generic one (measured slower).</summary>
internal interface IVectorWidth<TVector> where TVector : struct
{
    static abstract int Lanes { get; }

    static abstract TVector Zero { get; }

    static abstract TVector Broadcast(float value);

    static abstract unsafe TVector Load(float* p);

    static abstract unsafe void Store(TVector v, float* p);

    static abstract TVector LoadWeights(nint p, long k);

    static abstract TVector MultiplyAdd(TVector a, TVector b, TVector c);

    static abstract TVector Add(TVector a, TVector b);

    static abstract float Sum(TVector v);
}

/// <summary>256-bit vectors (AVX2 + FMA), weights of element type <typeparamref name="T"/>.</summary>
internal readonly struct Width256<T> : IVectorWidth<Vector256<float>> where T : struct, IKernelElement
{
    public static int Lanes => 8;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load(float* p) => Vector256.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(Vector256<float> v, float* p) => Vector256.Store(v, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadWeights(nint p, long k) => T.Load8(p, k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}

/// <summary>512-bit vectors (AVX-512), weights of element type <typeparamref name="T"/>.</summary>
internal readonly struct Width512<T> : IVectorWidth<Vector512<float>> where T : struct, IKernelElement
{
    public static int Lanes => 16;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> Load(float* p) => Vector512.Load(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(Vector512<float> v, float* p) => Vector512.Store(v, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadWeights(nint p, long k) => T.Load16(p, k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}
