// bfloat16 elements for the hand-written kernels (IKernelElement): widened exactly to float32, rounded back once.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Blip.Engine.Modules;

/// <summary>bfloat16 values, widened exactly (a 16-bit shift) and rounded to nearest-even as libtorch rounds.</summary>
internal readonly struct BFloat16Element : IKernelElement
{
    public static int Size => sizeof(ushort);

    // Eight bfloat16 zero-extended to 32 bits and shifted into the high half: exactly their float32 values.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<float> Load8(nint p, long k) =>
        Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32((ushort*)p + k), 16).AsSingle();

    // Sixteen, the same way in 512 bits.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<float> Load16(nint p, long k) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512Int32(Vector256.Load((ushort*)p + k)), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Load1(nint p, long k) => Widen(((ushort*)p)[k]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store(nint p, long k, float value) => ((ushort*)p)[k] = Narrow(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store8(nint p, long k, Vector256<float> values)
    {
        for (int i = 0; i < Vector256<float>.Count; i++) ((ushort*)p)[k + i] = Narrow(values.GetElement(i));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>float32 → bfloat16, rounded to nearest, ties to even; NaN stays a (quiet) NaN. The rounding of
    /// libtorch's <c>c10::BFloat16</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Narrow(float value)
    {
        if (float.IsNaN(value)) return 0x7FC0;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }
}
