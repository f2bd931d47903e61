// The machine's limits measured in this process: fp32 (and bf16) matmul GFLOP/s, a bf16 linear's, and read bandwidth.
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>Same measurements as compare_speed_ref.py's <c>limits</c>.</summary>
internal static class Limits
{
    public static void Run(Device device, int repeat)
    {
        using var inference = inference_mode();
        // bf16 at 1024: CPUs without AVX512-BF16 emulate it, slowly.
        foreach (var (type, name, n) in new[] { (ScalarType.Float32, "matmul_fp32_gflops", 2048), (ScalarType.BFloat16, "matmul_bf16_gflops", 1024) })
        {
            using var a = randn(n, n, dtype: type, device: device);
            using var b = randn(n, n, dtype: type, device: device);
            double seconds = Median(Math.Max(3, repeat), () => a.matmul(b).Dispose(), device);
            Emit.Fact(name, 2.0 * n * n * n / seconds / 1e9);
        }
        Emit.Fact("linear_bf16_gflops", LinearBFloat16Gflops(device, Math.Max(3, repeat)));
        if (device.type != DeviceType.CPU) return;
        using var x = ReadBuffer();
        Emit.Fact("read_bandwidth_gbs", ReadGbs(x));
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

    /// <summary>fp32 matmul GFLOP/s now: median of 3 timed 2048³ products after one untimed.</summary>
    public static double MatmulGflops(Device device)
    {
        using var inference = inference_mode();
        const int n = 2048;
        using var a = randn(n, n, device: device);
        using var b = randn(n, n, device: device);
        return 2.0 * n * n * n / Median(3, () => a.matmul(b).Dispose(), device) / 1e9;
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
