// What the x86 CPU is, from CPUID, for choices measured per kind of CPU (see SkinnyLinear.PreferredFor).
using System.Runtime.Intrinsics.X86;

namespace Blip.Engine.Modules;

/// <summary>CPU vendor, family and the AVX512-BF16 and AMX-BF16 flags, which .NET's intrinsics classes do not report.</summary>
internal static class CpuFeatures
{
    /// <summary>True on an Intel CPU (CPUID vendor "GenuineIntel").</summary>
    public static bool IsIntel { get; } = Vendor() == "GenuineIntel";

    /// <summary>True on an AMD CPU (CPUID vendor "AuthenticAMD").</summary>
    public static bool IsAmd { get; } = Vendor() == "AuthenticAMD";

    /// <summary>True on an AMD CPU of family 19h with AVX-512: Zen 4 (Zen 3, of the same family, has no AVX-512), whose
    /// AVX-512 splits 512-bit work into two 256-bit halves.</summary>
    public static bool IsAmdZen4 { get; } = IsAmd && Family() == 0x19 && Avx512F.IsSupported;

    /// <summary>True on an AMD CPU of family 1Ah or later (Zen 5 on), whose AVX-512 runs 512-bit FMAs at full width
    /// (Zen 4, family 19h, splits them in two halves).</summary>
    public static bool IsAmdZen5OrLater { get; } = IsAmd && Family() >= 0x1A;

    /// <summary>True when the CPU has AVX512-BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5) and the OS enables AVX-512.</summary>
    public static bool HasAvx512BFloat16 { get; } = Avx512F.IsSupported && X86Base.IsSupported && MaxLeaf() >= 7
        && (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0;

    /// <summary>True when CPUID reports AMX-BF16 (leaf 7, sub-leaf 0, EDX bit 22): Intel's tile unit, which libtorch's
    /// bfloat16 matrix products use where it exists. A hypervisor may hide it (the same Xeon model then reports
    /// AVX512-BF16 alone, as machine 5 of docs/BENCHMARKS.md did).</summary>
    public static bool HasAmxBFloat16 { get; } = X86Base.IsSupported && MaxLeaf() >= 7
        && (X86Base.CpuId(7, 0).Edx & (1 << 22)) != 0;

    private static int MaxLeaf() => X86Base.IsSupported ? X86Base.CpuId(0, 0).Eax : 0;

    /// <summary>The display family of CPUID leaf 1 (base family, plus the extended family where the base is 0Fh), or 0
    /// off x86.</summary>
    internal static int Family()
    {
        if (MaxLeaf() < 1) return 0;
        int eax = X86Base.CpuId(1, 0).Eax;
        int family = (eax >> 8) & 0xF;
        return family == 0xF ? family + ((eax >> 20) & 0xFF) : family;
    }

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
