// What the x86 CPU is, from CPUID, for choices measured per kind of CPU (see SkinnyLinear.PreferredFor).
using System.Runtime.Intrinsics.X86;

namespace Blip.Engine.Modules;

/// <summary>CPU vendor and the AVX512-BF16 flag, which .NET's intrinsics classes do not report.</summary>
internal static class CpuFeatures
{
    /// <summary>True on an Intel CPU (CPUID vendor "GenuineIntel").</summary>
    public static bool IsIntel { get; } = Vendor() == "GenuineIntel";

    /// <summary>True when the CPU has AVX512-BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5) and the OS enables AVX-512.</summary>
    public static bool HasAvx512BFloat16 { get; } = Avx512F.IsSupported && X86Base.IsSupported && MaxLeaf() >= 7
        && (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0;

    private static int MaxLeaf() => X86Base.IsSupported ? X86Base.CpuId(0, 0).Eax : 0;

    /// <summary>The 12-character vendor string (EBX, EDX, ECX of leaf 0), or "" off x86.</summary>
    internal static string Vendor()
    {
        if (!X86Base.IsSupported) return "";
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<byte> text = stackalloc byte[12];
        BitConverter.TryWriteBytes(text, ebx);
        BitConverter.TryWriteBytes(text[4..], edx);
        BitConverter.TryWriteBytes(text[8..], ecx);
        return System.Text.Encoding.ASCII.GetString(text);
    }
}
