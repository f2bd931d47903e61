// The self-attention of one decoding step, by hand: each row's one new query against its cached keys and values.
// Written by hand because the work is tiny (12 heads × ≤ 20 positions × 64 for a caption) and libtorch's route to
// it costs ~10 calls per layer: three head splits, two concatenations of the whole cache, SDPA, a transpose and a
// reshape, each 10–50 µs right after a weight stream has evicted the caches. Here the step's key and value go
// straight into the cache's buffers (TextAttentionCache), the scores, softmax and weighted sum run in float32 on
// the calling thread, and the context comes out as [B,1,C]. Exact softmax: max subtracted, exp, sum; float32
// throughout (bfloat16 values widen exactly and the context is rounded once), so it differs from SDPA by float
// rounding only (tested against it). Anything else (several new tokens, autograd, another device or dtype, a mask
// of another shape) takes SDPA.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Blip.Engine.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>One-token self-attention over a <see cref="TextAttentionCache"/>.</summary>
internal static class CachedStepAttention
{
    /// <summary>Whether steps take this path (BLIP_STEP_ATTENTION=0 turns it off for a process; tests set it).</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("BLIP_STEP_ATTENTION") != "0";

    /// <summary>Attends <paramref name="q"/> [B,1,C] to the cache after appending <paramref name="k"/> and
    /// <paramref name="v"/> [B,1,C] (C = heads·D) under <paramref name="mask"/> (null or additive [B,1,1,T+1]);
    /// returns the context [B,1,C], or null (nothing appended) where this path does not apply.</summary>
    public static Tensor? TryAttend(Tensor q, Tensor k, Tensor v, Tensor? mask, TextAttentionCache cache, int heads)
    {
        ArgumentNullException.ThrowIfNull(cache);
        // Each TorchSharp query is a native call and costs more once the weights have streamed through the caches: the
        // checks ask for as little as decides the case, sizes one dimension at a time (TensorMemory.Shape).
        if (!Enabled || !Avx2.IsSupported || q.dim() != 3) return null;
        var dtype = q.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return null;
        long[] shape = TensorMemory.Shape(q);
        if (shape[1] != 1) return null;
        long batch = shape[0], width = shape[2], headDim = width / heads;
        if (headDim * heads != width) return null;
        bool recording = is_grad_enabled();
        foreach (var t in (ReadOnlySpan<Tensor>)[q, k, v])
        {
            // k and v come from the same hidden states as q: [B,1,C'] with C' = C where the count matches.
            if (t.dtype != dtype || t.device_type != DeviceType.CPU || !t.is_contiguous() || t.dim() != 3 || t.numel() != batch * width) return null;
            if (recording && t.requires_grad) return null;
        }

        long keyLength = cache.Length + 1;
        if (mask is not null && (mask.dtype != dtype || mask.device_type != DeviceType.CPU || !mask.is_contiguous()
            || !TensorMemory.Shape(mask).AsSpan().SequenceEqual([batch, 1, 1, keyLength])))
            return null;
        if (!cache.TryReserveStep(batch, heads, headDim, dtype, out var keyBuffer, out var valueBuffer, out long capacity)) return null;

        var context = empty([batch, 1, width], dtype);                                                 // [B,1,C]
        var layout = new Shape(batch, heads, headDim, cache.Length, capacity);
        var pointers = new Pointers(TensorMemory.ContiguousAddress(q), TensorMemory.ContiguousAddress(k), TensorMemory.ContiguousAddress(v),
            mask is null ? 0 : TensorMemory.ContiguousAddress(mask), keyBuffer, valueBuffer, TensorMemory.ContiguousAddress(context));
        if (dtype == ScalarType.BFloat16)
            Run<BFloat16Element>(pointers, layout);
        else
            Run<Float32Element>(pointers, layout);
        cache.Advance(1);
        return context;
    }

    private readonly record struct Pointers(nint Q, nint K, nint V, nint Mask, nint KeyBuffer, nint ValueBuffer, nint Context);

    private readonly record struct Shape(long Batch, long Heads, long HeadDim, long Position, long Capacity);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<T>(Pointers p, Shape s) where T : struct, IKernelElement
    {
        int keyLength = checked((int)s.Position + 1);
        int headDim = checked((int)s.HeadDim);
        Span<float> scores = keyLength <= 256 ? stackalloc float[keyLength] : new float[keyLength];
        Span<float> query = headDim <= 256 ? stackalloc float[headDim] : new float[headDim];
        Span<float> sum = headDim <= 256 ? stackalloc float[headDim] : new float[headDim];
        float scale = 1f / MathF.Sqrt(s.HeadDim);
        nint qp = p.Q, kp = p.K, vp = p.V, kb = p.KeyBuffer, vb = p.ValueBuffer, cp = p.Context, mp = p.Mask;
        for (long b = 0; b < s.Batch; b++)
        {
            for (long h = 0; h < s.Heads; h++)
            {
                long token = (b * s.Heads + h) * s.HeadDim;                 // [B,1,H,D] offset of (b, h)
                long rows = (b * s.Heads + h) * s.Capacity * s.HeadDim;     // [B,H,Cap,D] offset of (b, h, 0)
                long slot = rows + (s.Position * s.HeadDim);
                for (int d = 0; d < headDim; d++)
                {
                    T.Store(kb, slot + d, T.Load1(kp, token + d));   // exact for both types (NaN stays NaN)
                    T.Store(vb, slot + d, T.Load1(vp, token + d));
                    query[d] = T.Load1(qp, token + d);
                }

                float max = float.NegativeInfinity;
                for (int j = 0; j < keyLength; j++)
                {
                    float score = Dot<T>(query, kb, rows + (j * s.HeadDim)) * scale;
                    if (mp != 0) score += T.Load1(mp, (b * keyLength) + j);
                    scores[j] = score;
                    max = MathF.Max(max, score);
                }

                float total = 0;
                for (int j = 0; j < keyLength; j++) total += scores[j] = MathF.Exp(scores[j] - max);
                sum.Clear();
                for (int j = 0; j < keyLength; j++) Accumulate<T>(sum, scores[j], vb, rows + (j * s.HeadDim));
                float inverse = 1f / total;
                for (int d = 0; d < headDim; d++) T.Store(cp, token + d, sum[d] * inverse);
            }
        }
    }

    // q·row over D values: eight lanes at a time, then the tail. Loads through pointers: Vector256.Create(span) called
    // Span's conversion to ReadOnlySpan out of line for every eight values (seen in the JIT's listing).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe float Dot<T>(ReadOnlySpan<float> query, nint buffer, long offset) where T : struct, IKernelElement
    {
        var acc = Vector256<float>.Zero;
        int d = 0;
        fixed (float* q = query)
        {
            for (; d + 8 <= query.Length; d += 8) acc += Vector256.Load(q + d) * T.Load8(buffer, offset + d);
        }

        float dot = Vector256.Sum(acc);
        for (; d < query.Length; d++) dot += query[d] * T.Load1(buffer, offset + d);
        return dot;
    }

    // sum += weight · row over D values (a multiply, then an add: the same rounding as before the pointer loads).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Accumulate<T>(Span<float> sum, float weight, nint buffer, long offset) where T : struct, IKernelElement
    {
        var w = Vector256.Create(weight);
        int d = 0;
        fixed (float* s = sum)
        {
            for (; d + 8 <= sum.Length; d += 8) Vector256.Store(Vector256.Load(s + d) + (w * T.Load8(buffer, offset + d)), s + d);
        }

        for (; d < sum.Length; d++) sum[d] += weight * T.Load1(buffer, offset + d);
    }
}
