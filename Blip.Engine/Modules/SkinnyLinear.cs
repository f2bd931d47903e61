// x·Wᵀ + b for inputs of a few rows: a decoding step (one token per sequence, a few beams). Written by hand
// because libtorch's CPU kernels for these shapes stay far below the memory bandwidth that bounds them. Measured on
// the 2-vCPU AVX2 machine of docs/BENCHMARKS.md, reading a 3072×768 fp32 weight: nn.functional.linear 8.6 GB/s for
// one row (MKL's gemv runs on one thread) and 3.1 GB/s for three rows (small-M gemm); this kernel 14–17 GB/s and
// 12–13 GB/s. It runs only where nothing needs autograd and the layout is plain: float32, CPU, contiguous weight,
// AVX2 + FMA, at most MaxRows rows; everything else goes to nn.functional.linear unchanged. Its sums run in another
// order than MKL's, so results differ by float rounding (about 1e-6 relative), as MKL's differ from OpenBLAS's.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>A memory-bandwidth-bound <c>linear</c> for a few input rows; falls back to libtorch otherwise.</summary>
internal static class SkinnyLinear
{
    /// <summary>Most input rows (product of all dims but the last) the kernel takes.</summary>
    public const long MaxRows = 16;

    // Weights smaller than this (elements) run on the calling thread: handing out work costs more than it saves.
    private const long ParallelElements = 1L << 16;

    // Work items per core for the thread pool: 2 balanced a 3072×768 weight best on 2 vCPUs (1: 13.7 GB/s, 2: 16.7).
    private const int ChunksPerCore = 2;

    /// <summary>False sends everything to libtorch: set by the environment variable BLIP_SKINNY_LINEAR=0, which the
    /// speed harness uses for before/after measurements.</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("BLIP_SKINNY_LINEAR") != "0";

    /// <summary><paramref name="layer"/>'s forward, by the kernel where it applies.</summary>
    public static Tensor Forward(Linear layer, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return Forward(input, layer.weight!, layer.bias);
    }

    /// <summary><c>input·weightᵀ + bias</c>, <c>[..., I] → [..., O]</c>, by the kernel where it applies.</summary>
    public static Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (!Applies(input, weight, bias))
            return nn.functional.linear(input, weight, bias);
        long outFeatures = weight.shape[0], inFeatures = weight.shape[1];
        long rows = input.numel() / inFeatures;
        var shape = input.shape.ToArray();
        shape[^1] = outFeatures;
        var output = empty(shape, ScalarType.Float32);                          // [..., O]
        using var x = input.contiguous();
        using var b = bias?.contiguous();
        Run(x, weight, b, output, rows, outFeatures, inFeatures);
        return output;
    }

    /// <summary>Whether every linear of a model whose activations look like <paramref name="hidden"/> [..., C] goes
    /// to the kernel (weights on the same device and dtype): then libtorch only runs small element-wise work.</summary>
    public static bool Covers(Tensor hidden)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        return Available && hidden.device_type == DeviceType.CPU && hidden.dtype == ScalarType.Float32 && hidden.dim() >= 1
            && hidden.shape[^1] > 0 && hidden.numel() / hidden.shape[^1] <= MaxRows && !(is_grad_enabled() && hidden.requires_grad);
    }

    private static bool Available => Enabled && Fma.IsSupported && Avx.IsSupported;

    /// <summary>Whether <see cref="Forward(Tensor, Tensor, Tensor?)"/> takes the kernel for these arguments.</summary>
    internal static bool Applies(Tensor input, Tensor weight, Tensor? bias)
    {
        if (!Available) return false;
        if (input.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU) return false;
        if (input.dtype != ScalarType.Float32 || weight.dtype != ScalarType.Float32 || weight.dim() != 2 || !weight.is_contiguous()) return false;
        if (weight.numel() > int.MaxValue / sizeof(float)) return false;  // read through one Span<byte>
        if (bias is not null && (bias.device_type != DeviceType.CPU || bias.dtype != ScalarType.Float32 || bias.dim() != 1 || bias.shape[0] != weight.shape[0])) return false;
        long inFeatures = weight.shape[1];
        if (input.dim() < 1 || inFeatures == 0 || weight.shape[0] == 0 || input.shape[^1] != inFeatures) return false;
        long rows = input.numel() / inFeatures;
        if (rows < 1 || rows > MaxRows) return false;
        bool needsGrad = is_grad_enabled() && (input.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false));
        return !needsGrad;
    }

    private static unsafe void Run(Tensor x, Tensor weight, Tensor? bias, Tensor output, long rows, long outFeatures, long inFeatures)
    {
        fixed (byte* xp = x.bytes)
        fixed (byte* wp = weight.bytes)
        fixed (byte* yp = output.bytes)
        fixed (byte* bp = bias is null ? default : bias.bytes)
        {
            var args = new KernelArgs((nint)xp, (nint)wp, (nint)bp, (nint)yp, rows, outFeatures, inFeatures);
            int chunks = outFeatures * inFeatures < ParallelElements ? 1 : ChunksPerCore * Environment.ProcessorCount;
            if (chunks == 1)
            {
                Rows(args, 0, outFeatures);
                return;
            }

            long per = (outFeatures + chunks - 1) / chunks;
            Parallel.For(0, chunks, c => Rows(args, c * per, Math.Min(outFeatures, (c + 1) * per)));
        }
    }

    private readonly record struct KernelArgs(nint X, nint W, nint B, nint Y, long Rows, long Out, long In);

    // Output features [first, last) for every input row; each weight row is read from memory once, and from L1 once
    // per block of up to 4 input rows (a block of 2 or 3 repeats its last row and drops the extra sums).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Rows(KernelArgs a, long first, long last)
    {
        float* x = (float*)a.X, w = (float*)a.W, b = (float*)a.B, y = (float*)a.Y;
        for (long o = first; o < last; o++)
        {
            float* wr = w + (o * a.In);
            float bo = b is null ? 0f : b[o];
            long r = 0;
            for (; a.Rows - r >= 2; r += 4)
            {
                long n = Math.Min(4, a.Rows - r);
                float* x0 = x + (r * a.In);
                Dot4(wr, x0, x0 + a.In, x0 + (Math.Min(2, n - 1) * a.In), x0 + ((n - 1) * a.In), a.In, out var d0, out var d1, out var d2, out var d3);
                y[(r * a.Out) + o] = d0 + bo;
                y[((r + 1) * a.Out) + o] = d1 + bo;
                if (n > 2) y[((r + 2) * a.Out) + o] = d2 + bo;
                if (n > 3) y[((r + 3) * a.Out) + o] = d3 + bo;
            }

            if (r < a.Rows) y[(r * a.Out) + o] = Dot(wr, x + (r * a.In), a.In) + bo;
        }
    }

    // One weight row against four input rows: each weight vector is loaded once and used four times, with two
    // accumulators per row so that eight FMA chains are in flight. Before this, rows beyond the first were each a full
    // Dot (the weight row re-read from L1 and summed horizontally per row): a step of 8 rows took 102–114 ms against
    // 56–74 ms for one row.
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot4(float* w, float* x0, float* x1, float* x2, float* x3, long n,
        out float d0, out float d1, out float d2, out float d3)
    {
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
        long k = 0;
        for (; k + 16 <= n; k += 16)
        {
            var wa = Avx.LoadVector256(w + k);
            var wb = Avx.LoadVector256(w + k + 8);
            a0 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x0 + k), a0);
            a1 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x1 + k), a1);
            a2 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x2 + k), a2);
            a3 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x3 + k), a3);
            b0 = Fma.MultiplyAdd(wb, Avx.LoadVector256(x0 + k + 8), b0);
            b1 = Fma.MultiplyAdd(wb, Avx.LoadVector256(x1 + k + 8), b1);
            b2 = Fma.MultiplyAdd(wb, Avx.LoadVector256(x2 + k + 8), b2);
            b3 = Fma.MultiplyAdd(wb, Avx.LoadVector256(x3 + k + 8), b3);
        }

        for (; k + 8 <= n; k += 8)
        {
            var wa = Avx.LoadVector256(w + k);
            a0 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x0 + k), a0);
            a1 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x1 + k), a1);
            a2 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x2 + k), a2);
            a3 = Fma.MultiplyAdd(wa, Avx.LoadVector256(x3 + k), a3);
        }

        (d0, d1, d2, d3) = (Vector256.Sum(a0 + b0), Vector256.Sum(a1 + b1), Vector256.Sum(a2 + b2), Vector256.Sum(a3 + b3));
        for (; k < n; k++)
        {
            d0 += w[k] * x0[k];
            d1 += w[k] * x1[k];
            d2 += w[k] * x2[k];
            d3 += w[k] * x3[k];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe float Dot(float* w, float* x, long n)
    {
        // Four independent accumulators keep the FMA units busy while the weight streams in from memory.
        var s0 = Vector256<float>.Zero;
        var s1 = Vector256<float>.Zero;
        var s2 = Vector256<float>.Zero;
        var s3 = Vector256<float>.Zero;
        long k = 0;
        for (; k + 32 <= n; k += 32)
        {
            s0 = Fma.MultiplyAdd(Avx.LoadVector256(w + k), Avx.LoadVector256(x + k), s0);
            s1 = Fma.MultiplyAdd(Avx.LoadVector256(w + k + 8), Avx.LoadVector256(x + k + 8), s1);
            s2 = Fma.MultiplyAdd(Avx.LoadVector256(w + k + 16), Avx.LoadVector256(x + k + 16), s2);
            s3 = Fma.MultiplyAdd(Avx.LoadVector256(w + k + 24), Avx.LoadVector256(x + k + 24), s3);
        }

        for (; k + 8 <= n; k += 8)
        {
            s0 = Fma.MultiplyAdd(Avx.LoadVector256(w + k), Avx.LoadVector256(x + k), s0);
        }

        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; k < n; k++)
        {
            sum += w[k] * x[k];
        }

        return sum;
    }
}
