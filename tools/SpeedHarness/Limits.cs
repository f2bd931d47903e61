// The machine's limits measured in this process: fp32 GEMM GFLOP/s (MKL and oneDNN), bf16 matmul and linear, read bandwidth.
using System.Diagnostics;
using Blip.Engine.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>Same measurements as compare_speed_ref.py's <c>limits</c>.</summary>
internal static class Limits
{
    public static void Run(Device device, int repeat)
    {
        using var inference = inference_mode();
        int count = Math.Max(3, repeat);
        var (mkl, oneDnn) = Float32Gflops(device, count);
        Emit.Fact("matmul_fp32_gflops", Math.Max(mkl, oneDnn ?? 0));
        Emit.Fact("matmul_fp32_matmul_gflops", mkl);
        if (oneDnn is { } conv) Emit.Fact("matmul_fp32_onednn_gflops", conv);
        Emit.Fact("matmul_bf16_gflops", MatmulBFloat16Gflops(device, count));
        Emit.Fact("linear_bf16_gflops", LinearBFloat16Gflops(device, count));
        if (device.type != DeviceType.CPU) return;
        using var x = ReadBuffer();
        Emit.Fact("read_bandwidth_gbs", ReadGbs(x));
    }

    /// <summary>The bf16 compute limit now, GFLOP/s: the faster of <see cref="MatmulBFloat16Gflops"/> and
    /// <see cref="LinearBFloat16Gflops"/>, as the fp32 limit is the faster of its two routes. The unpacked linear alone
    /// understates it where the model's linears run on packed weights: on the Zen 5 of docs/BENCHMARKS.md (machine 6)
    /// it ran at 457–483 GFLOP/s against the square matmul's 799–943, and a bf16 vision forward at 831 came out as 133%
    /// of it. A CPU without AVX512-BF16 runs only the linear: its matmul there is the slower by far (below).</summary>
    public static double BFloat16Gflops(Device device, int count = 3) =>
        device.type == DeviceType.CPU && !CpuFeatures.HasAvx512BFloat16
            ? LinearBFloat16Gflops(device, count)
            : Math.Max(MatmulBFloat16Gflops(device, count), LinearBFloat16Gflops(device, count));

    /// <summary>A 1024³ bf16 product, median of <paramref name="count"/>. CPUs without AVX512-BF16 emulate it, slowly
    /// (0.8 GFLOP/s on the AVX2 machine of docs/BENCHMARKS.md, where the linear below ran at 16–18).</summary>
    public static double MatmulBFloat16Gflops(Device device, int count = 3)
    {
        using var inference = inference_mode();
        const int n = 1024;
        using var a = randn(n, n, dtype: ScalarType.BFloat16, device: device);
        using var b = randn(n, n, dtype: ScalarType.BFloat16, device: device);
        return 2.0 * n * n * n / Median(count, () => a.matmul(b).Dispose(), device) / 1e9;
    }

    /// <summary>bf16 as the model runs it: a linear of ViT-L's fc1 shape (577 tokens, 1024 → 4096), median of
    /// <paramref name="count"/>. Without AVX512-BF16, libtorch's linear (oneDNN) is far faster than its square matmul.</summary>
    public static double LinearBFloat16Gflops(Device device, int count = 3)
    {
        using var inference = inference_mode();
        using var x16 = randn(577, 1024, dtype: ScalarType.BFloat16, device: device);
        using var w16 = randn(4096, 1024, dtype: ScalarType.BFloat16, device: device);
        return 2.0 * 577 * 1024 * 4096 / Median(count, () => nn.functional.linear(x16, w16).Dispose(), device) / 1e9;
    }

    /// <summary>The 1 GiB float32 buffer <see cref="ReadGbs"/> sums (CPU).</summary>
    public static Tensor ReadBuffer() => ones(256L * 1024 * 1024, dtype: ScalarType.Float32);

    /// <summary>Read bandwidth now, GB/s: the median of 3 sums of <paramref name="buffer"/> after one untimed.</summary>
    public static double ReadGbs(Tensor buffer)
    {
        using var inference = inference_mode();
        return buffer.numel() * buffer.element_size() / Median(3, () => buffer.sum().Dispose(), buffer.device) / 1e9;
    }

    /// <summary>The fp32 compute limit now, GFLOP/s: the faster of the two routes in <see cref="Float32Gflops"/>.</summary>
    public static double MatmulGflops(Device device)
    {
        var (mkl, oneDnn) = Float32Gflops(device, 3);
        return Math.Max(mkl, oneDnn ?? 0);
    }

    /// <summary>A 2048³ fp32 product, median of <paramref name="count"/> timed after one untimed, by the two GEMMs libtorch
    /// has on a CPU: its matmul (MKL's sgemm) and, on the CPU only, oneDNN's 1×1 convolution over the same rows
    /// (the route Blip.Engine's OneDnnLinear takes where MKL keeps to AVX2: on an AMD Zen 5 twice as fast). The faster
    /// is the machine's fp32 limit, so the vision share and the floors are not judged against the slower GEMM.</summary>
    public static (double Matmul, double? OneDnn) Float32Gflops(Device device, int count)
    {
        using var inference = inference_mode();
        const int n = 2048;
        const double flop = 2.0 * n * n * n;
        using var a = randn(n, n, device: device);
        using var b = randn(n, n, device: device);
        double matmul = flop / Median(count, () => a.matmul(b).Dispose(), device) / 1e9;
        if (device.type != DeviceType.CPU) return (matmul, null);
        using var rows = a.view(1, 1, n, n).permute(0, 3, 1, 2);     // [1,K,1,M], channels-last: a's rows as they lie
        using var kernel = b.t().contiguous().view(n, n, 1, 1);      // [N,K,1,1]: bᵀ's rows are the output channels
        return (matmul, flop / Median(count, () => nn.functional.conv2d(rows, kernel).Dispose(), device) / 1e9);
    }

    private static double Median(int count, Action action, Device device)
    {
        action();
        var times = new List<double>();
        for (int i = 0; i < count; i++)
        {
            if (device.type == DeviceType.CUDA) cuda.synchronize();
            long start = Stopwatch.GetTimestamp();
            action();
            if (device.type == DeviceType.CUDA) cuda.synchronize();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }
}
