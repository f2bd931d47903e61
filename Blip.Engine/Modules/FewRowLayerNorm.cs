// LayerNorm(x + residual) for the few rows of a decoding step, by hand, in place over x (a linear's fresh output).
// Written by hand because at 1–16 rows of 768 the work is a few microseconds and libtorch's add and layer_norm cost
// 10–50 µs as two calls right after a weight stream has evicted the caches; a step runs 37 of them. Same arithmetic
// as libtorch's up to float rounding: the sum is rounded to the dtype first (as libtorch's add), then the mean and the
// biased variance of each row (accumulated in float64 here), then (v − mean)·rsqrt(var + eps)·γ + β, rounded once.
// Anything else (more rows, autograd, another device or dtype, strided tensors) goes to libtorch unchanged.
using Blip.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>A residual add and layer norm over a few rows.</summary>
internal static class FewRowLayerNorm
{
    /// <summary>Most rows (product of all dims but the last) taken by hand.</summary>
    public const long MaxRows = 16;

    /// <summary>Whether this path is used (BLIP_FEW_ROW_NORM=0 turns it off for a process; tests set it).</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("BLIP_FEW_ROW_NORM") != "0";

    /// <summary><c>norm(x + residual)</c>; where the rows are few, computed into <paramref name="x"/>'s own storage
    /// (which must be a temporary the caller gives up) and returned as <paramref name="x"/>.</summary>
    public static Tensor AddNormInPlace(LayerNorm norm, double eps, Tensor x, Tensor residual)
    {
        ArgumentNullException.ThrowIfNull(norm);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(residual);
        var weight = norm.weight;
        var bias = norm.bias;
        if (!Applies(x, residual, weight, bias, out long rows, out long width))
        {
            using var sum = x + residual;
            return norm.forward(sum);
        }

        var p = new Pointers(TensorMemory.ContiguousAddress(x), TensorMemory.ContiguousAddress(residual),
            weight is null ? 0 : TensorMemory.ContiguousAddress(weight), bias is null ? 0 : TensorMemory.ContiguousAddress(bias));
        if (x.dtype == ScalarType.BFloat16)
            Run<BFloat16Element>(p, rows, width, (float)eps);
        else
            Run<Float32Element>(p, rows, width, (float)eps);
        return x;
    }

    // TorchSharp queries are native calls: the cheap ones first, one shape.
    private static bool Applies(Tensor x, Tensor residual, Tensor? weight, Tensor? bias, out long rows, out long width)
    {
        (rows, width) = (0, 0);
        if (!Enabled || x.device_type != DeviceType.CPU || residual.device_type != DeviceType.CPU) return false;
        var dtype = x.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16) || residual.dtype != dtype) return false;
        if (!x.is_contiguous() || !residual.is_contiguous() || x.dim() < 1) return false;
        long count = x.numel();
        if (residual.numel() != count) return false;
        foreach (var p in (ReadOnlySpan<Tensor?>)[weight, bias])
            if (p is not null && (p.dtype != dtype || p.device_type != DeviceType.CPU || !p.is_contiguous())) return false;
        if (is_grad_enabled() && (x.requires_grad || residual.requires_grad || (weight?.requires_grad ?? false) || (bias?.requires_grad ?? false)))
            return false;
        long[] xs = TensorMemory.Shape(x), rs = TensorMemory.Shape(residual);
        if (!xs.AsSpan().SequenceEqual(rs)) return false;                  // no broadcasting here
        width = xs[^1];
        if (width == 0 || (weight is not null && weight.numel() != width) || (bias is not null && bias.numel() != width)) return false;
        rows = count / width;
        return rows <= MaxRows;
    }

    private readonly record struct Pointers(nint X, nint Residual, nint Weight, nint Bias);

    private static void Run<T>(Pointers p, long rows, long width, float eps) where T : struct, IKernelElement
    {
        for (long r = 0; r < rows; r++)
        {
            long row = r * width;
            double sum = 0;
            for (long i = 0; i < width; i++)
            {
                // The residual sum as libtorch's add leaves it: rounded to the dtype.
                T.Store(p.X, row + i, T.Load1(p.X, row + i) + T.Load1(p.Residual, row + i));
                sum += T.Load1(p.X, row + i);
            }

            double mean = sum / width, squares = 0;
            for (long i = 0; i < width; i++)
            {
                double d = T.Load1(p.X, row + i) - mean;
                squares += d * d;
            }

            float m = (float)mean, scale = 1f / MathF.Sqrt((float)(squares / width) + eps);
            for (long i = 0; i < width; i++)
            {
                float y = (T.Load1(p.X, row + i) - m) * scale;
                if (p.Weight != 0) y *= T.Load1(p.Weight, i);
                if (p.Bias != 0) y += T.Load1(p.Bias, i);
                T.Store(p.X, row + i, y);
            }
        }
    }
}
