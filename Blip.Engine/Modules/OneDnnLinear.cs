// x·Wᵀ + b for inputs of many rows (a vision layer's 577 tokens per image, the cross-attention keys and values of a
// prefill, a batch of texts) through oneDNN instead of MKL. libtorch sends a float32 linear to MKL's sgemm, and MKL
// picks its code path by CPU vendor: on AMD CPUs it runs AVX2 kernels even where the CPU has AVX-512. oneDNN (also in
// libtorch) picks by instruction set, and libtorch reaches it for float32 through its convolution: a linear is a 1×1
// convolution over a [1, I, 1, R] input whose memory is channels-last, which is exactly the [R, I] rows as they lie,
// so nothing is copied on the way in or out. Measured on the 2-vCPU AMD EPYC Zen 5 of docs/BENCHMARKS.md (machine 4),
// fp32, in one process: 577×1024 → 3072 180 against 345–384 GFLOP/s, 577×4096 → 1024 187 against 310–314, 577×1024 →
// 768 177–182 against 283–293, 4616×1024 → 4096 164 against 286–332, 128×768 → 768 140 against 286–298, and for 16
// rows the same (103–115 against 109–113). bfloat16 already goes to oneDNN (its matmul) and is left to it, except that
// a bfloat16 weight OneDnnPackedLinear may pack (converted at load, on a CPU with AVX512-BF16) runs packed. oneDNN
// sums in another order than MKL, so results differ by float rounding (about 1e-6 relative), as MKL's differ from
// OpenBLAS's. Only a wiring of libtorch's own kernels: no arithmetic is written here.
using System.Runtime.Intrinsics.X86;
using Blip.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>A float32 <c>linear</c> of many rows by oneDNN's 1×1 convolution where MKL would leave the CPU's full-width
/// AVX-512 unused; falls back to <c>nn.functional.linear</c> otherwise.</summary>
internal static class OneDnnLinear
{
    /// <summary>Fewest input rows (product of all dims but the last) Auto sends to oneDNN: at 16 rows both run alike.</summary>
    public const long MinRows = 32;

    /// <summary>When oneDNN runs the linear: by default (Auto) on AMD CPUs with AVX-512 (Zen 4 on), where MKL keeps to
    /// AVX2 and oneDNN was measured faster: on Zen 5 (full-width 512-bit FMAs) see the header; on the Zen 4 of machine 3
    /// (512-bit work split in two halves, so AVX2's FMA rate) a 2048³ product ran at 175–218 GFLOP/s against MKL's
    /// 142–188, and with packed weights a vision forward took 2.05 against 2.45 s and a bfloat16 greedy caption 1.51
    /// against 1.98 s (medians of 8 rounds; docs/BENCHMARKS.md, optimisation 33). Not on Intel CPUs, where MKL takes its AVX-512 path (the
    /// Xeon of machine 5: a 2048³ product 287–330 GFLOP/s against oneDNN's 261–304), nor on CPUs without AVX-512. The environment variable BLIP_ONEDNN_LINEAR=0 (never) or
    /// =1 (always, any row count, where the layout allows) sets it for a process.</summary>
    internal static SkinnyLinearPolicy Policy { get; set; } =
        SkinnyLinearPolicies.Parse(Environment.GetEnvironmentVariable("BLIP_ONEDNN_LINEAR"), "BLIP_ONEDNN_LINEAR");

    /// <summary><paramref name="layer"/>'s forward, by oneDNN where it applies. In training mode always libtorch's
    /// linear: gradient checkpointing runs a block without autograd and again with it, and both passes must be the same
    /// arithmetic.</summary>
    public static Tensor Forward(Linear layer, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(input);
        return layer.training ? layer.forward(input) : Forward(input, layer.weight!, layer.bias);
    }

    /// <summary><c>input·weightᵀ + bias</c>, <c>[..., I] → [..., O]</c>, by oneDNN where it applies.</summary>
    public static Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (Widens(input, weight, bias))
        {
            // Exact widening: a product of two bfloat16 values is exact in float32, and oneDNN's bfloat16 matmul also
            // sums in float32 and rounds once at the end, so only the order of the sums differs.
            using var wideScope = NewDisposeScope();
            var wide = Forward(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias?.to(ScalarType.Float32));
            return wide.to(ScalarType.BFloat16).MoveToOuterDisposeScope();
        }
        if (!Applies(input, weight, bias))
            return Libtorch(input, weight, bias);
        if (OneDnnPackedLinear.TryForward(input, weight, bias) is { } packed)
            return packed;                                                             // weight packed once
        if (weight.dtype == ScalarType.BFloat16)
            return Libtorch(input, weight, bias);                                      // oneDNN's matmul already
        using var scope = NewDisposeScope();
        long outFeatures = weight.size(0), inFeatures = weight.size(1);
        long[] shape = TensorMemory.Shape(input);
        long rows = input.numel() / inFeatures;
        var columns = input.contiguous().view(1, 1, rows, inFeatures)                 // [1,1,R,I]
            .permute(0, 3, 1, 2);                                                      // [1,I,1,R], channels-last
        var output = nn.functional.conv2d(columns, weight.view(outFeatures, inFeatures, 1, 1), bias);  // [1,O,1,R]
        shape[^1] = outFeatures;
        // oneDNN writes channels-last, so this is a view of [R,O]; were it not, reshape would copy.
        return output.permute(0, 2, 3, 1).reshape(shape).MoveToOuterDisposeScope();   // [..., O]
    }

    /// <summary>Whether linears of <paramref name="rows"/> rows go to oneDNN under <see cref="Policy"/> on this CPU.</summary>
    internal static bool PreferredFor(long rows) => Policy switch
    {
        SkinnyLinearPolicy.Always => true,
        SkinnyLinearPolicy.Never => false,
        _ => CpuFeatures.IsAmd && Avx512F.IsSupported && rows >= MinRows,
    };

    /// <summary>libtorch's <c>linear</c>, with a contiguous bfloat16 or float16 input of more than two dimensions folded
    /// to <c>[R, I]</c> when there is a bias. libtorch 2.10's linear of such an input is a matmul rounded to the dtype
    /// and then the bias added and rounded again, where its 2-D linear (addmm) and the torch that transformers runs
    /// round once (measured on machine 5 of docs/BENCHMARKS.md: [2,10,768] inputs, 4,656 of 15,360 outputs one
    /// bfloat16 step off the once-rounded sum, against none of the folded ones). float32, where the second rounding
    /// is below the tests' tolerances, keeps libtorch's own form.</summary>
    private static Tensor Libtorch(Tensor input, Tensor weight, Tensor? bias)
    {
        if (bias is null || input.dim() <= 2 || input.dtype is not (ScalarType.BFloat16 or ScalarType.Float16) || !input.is_contiguous())
            return nn.functional.linear(input, weight, bias);
        using var scope = NewDisposeScope();
        long[] shape = TensorMemory.Shape(input);
        long inFeatures = shape[^1];
        if (inFeatures == 0 || weight.dim() != 2) return nn.functional.linear(input, weight, bias).MoveToOuterDisposeScope();
        var output = nn.functional.linear(input.view(-1, inFeatures), weight, bias);   // [R,O]
        shape[^1] = weight.size(0);
        return output.view(shape).MoveToOuterDisposeScope();                           // [..., O]
    }

    /// <summary>Fewest rows a bfloat16 linear is widened for: below it converting the weight costs more than the
    /// product saves.</summary>
    internal static long WidenMinRows { get; set; } = 64;

    /// <summary>When a bfloat16 linear of many rows runs as a float32 product of widened copies instead of libtorch's
    /// bfloat16 matmul: by default (Auto) on x86 CPUs where that matmul is slower than float32's, Intel CPUs without
    /// AMX-BF16 and CPUs without AVX512-BF16 (not on other architectures, unmeasured). On the Intel Xeon of machine 5 (docs/BENCHMARKS.md; AVX512-BF16, AMX
    /// hidden by the hypervisor) ViT-L's fc1 shape ran at ~145 GFLOP/s in bfloat16 against ~310 in float32, and a bfloat16
    /// greedy caption took 1.7× as long as a float32 one. BLIP_BF16_WIDEN=0 (never) or =1 (always) sets it for a
    /// process.</summary>
    internal static SkinnyLinearPolicy WidenPolicy { get; set; } =
        SkinnyLinearPolicies.Parse(Environment.GetEnvironmentVariable("BLIP_BF16_WIDEN"), "BLIP_BF16_WIDEN");

    /// <summary>Whether bfloat16 linears are widened on this CPU under <see cref="WidenPolicy"/>.</summary>
    internal static bool WidensBFloat16 => WidenPolicy switch
    {
        SkinnyLinearPolicy.Always => true,
        SkinnyLinearPolicy.Never => false,
        _ => X86Base.IsSupported && (!CpuFeatures.HasAvx512BFloat16 || (CpuFeatures.IsIntel && !CpuFeatures.HasAmxBFloat16)),
    };

    private static bool Widens(Tensor input, Tensor weight, Tensor? bias) =>
        WidensBFloat16 && weight.dtype == ScalarType.BFloat16 && InferenceRows(input, weight, bias) >= WidenMinRows;

    /// <summary>Whether oneDNN takes linears of <paramref name="type"/> here (and so packs their weights): float32, and
    /// bfloat16 on CPUs with AVX512-BF16.</summary>
    internal static bool TakesDType(ScalarType type) =>
        type == ScalarType.Float32 || (type == ScalarType.BFloat16 && CpuFeatures.HasAvx512BFloat16);

    /// <summary>Whether <see cref="Forward(Tensor, Tensor, Tensor?)"/> takes oneDNN for these arguments: float32 input,
    /// weight and bias (or bfloat16, on a CPU with AVX512-BF16: then only a packed weight differs from libtorch's
    /// route) on the CPU, a contiguous 2-D weight, and nothing for autograd to record.</summary>
    internal static bool Applies(Tensor input, Tensor weight, Tensor? bias)
    {
        if (!TakesDType(weight.dtype)) return false;
        long rows = InferenceRows(input, weight, bias);
        return rows >= 1 && PreferredFor(rows);
    }

    /// <summary>The input's rows (product of all dims but the last) where the linear is a plain CPU inference one:
    /// input, weight and bias of one dtype on the CPU, a contiguous 2-D weight, a matching bias, and nothing for
    /// autograd to record; else 0.</summary>
    internal static long InferenceRows(Tensor input, Tensor weight, Tensor? bias)
    {
        if (input.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU) return 0;
        var dtype = weight.dtype;
        if (input.dtype != dtype || weight.dim() != 2 || !weight.is_contiguous()) return 0;
        long outFeatures = weight.size(0), inFeatures = weight.size(1);   // size(d), not shape: see TensorMemory.Shape
        if (bias is not null && (bias.device_type != DeviceType.CPU || bias.dtype != dtype || bias.dim() != 1 || bias.size(0) != outFeatures)) return 0;
        if (input.dim() < 1 || inFeatures == 0 || outFeatures == 0 || TensorMemory.LastSize(input) != inFeatures) return 0;
        if (is_grad_enabled() && (input.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false))) return 0;
        return input.numel() / inFeatures;
    }
}
