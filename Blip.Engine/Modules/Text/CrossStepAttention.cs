// The cross-attention of one decoding step, by hand: each row's one new query against the image's keys and values,
// which were projected once per image (577 of them for ViT-L at 384 px) and are read in place. Written by hand because
// libtorch sends a one-query attention to BLAS's matrix-vector product, which is slow off Intel's own code paths: on
// the AMD EPYC (Zen 4) machine of docs/BENCHMARKS.md MKL's bfloat16 gemv took 31% of a bf16 caption's decoding
// samples, ~10 ms a step for 21 MB of keys and values (~2 GB/s), and its float32 gemv ~3 ms for 42 MB. Here each
// image's tokens are cut into ranges shared out over libtorch's OpenMP team; a range's keys and values are one
// contiguous block, read once in order for all heads and beams (each loaded key vector serves every beam of the
// image), and the ranges' partial softmaxes are merged exactly as flash attention merges blocks. Where SkinnyLinear
// sums as many rows in 512 bits (SkinnyLinear.WideFor, the same rule: AMD Zen 5 on, Zen 4 for two rows or more) the dot
// products and the weighted sums run in 512-bit vectors, else in 256; e^x runs in 512-bit vectors wherever the JIT
// accelerates them (SelfAttentionKernel's, within ~2 ulp of MathF.Exp; on Zen 4 one beam took a scalar MathF.Exp per
// score before, and its weighted sums a Span conversion out of line per eight values: 12 layers of a float32 step
// 2.31 → 1.98 ms, bfloat16 1.78 → 1.20 ms, interleaved in one process; docs/BENCHMARKS.md, optimisation 40).
// Float32 throughout, bfloat16 widened exactly and the context rounded once, so it differs from SDPA by float
// rounding only (tested against it). Anything else (several new tokens, autograd, another device or dtype,
// another layout, a mask of another shape) takes SDPA.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Blip.Engine.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>One-token cross-attention to cached image keys and values.</summary>
internal static class CrossStepAttention
{
    /// <summary>Where steps take this path: by default where it was measured faster than SDPA (see
    /// <see cref="PreferredFor"/>); BLIP_CROSS_STEP_ATTENTION=0 (never) or =1 (wherever it applies) sets it for a
    /// process; tests set it.</summary>
    internal static SkinnyLinearPolicy Policy { get; set; } =
        SkinnyLinearPolicies.Parse(Environment.GetEnvironmentVariable("BLIP_CROSS_STEP_ATTENTION"), "BLIP_CROSS_STEP_ATTENTION");

    /// <summary>Auto, as measured on the AMD EPYC (Zen 4) machine of docs/BENCHMARKS.md, 12 layers' cross-attention
    /// of one step with the keys and values from DRAM: bfloat16 one beam 2.2 against SDPA's 12.2 ms, three beams 5.5–5.7
    /// against 8.3–10.8; float32 one beam 2.7 against 4.7, three beams 6.4 against 5.4–6.2 (not taken there). On the
    /// Zen 5 of machine 4, float32 three beams 3.2 against 4.5 ms (SDPA's per-head products are MKL's AVX2 sgemm there),
    /// and with the 512-bit sums 3.9 against 6.4 in a slower phase; on the Zen 4, with the 512-bit sums, a beam-3
    /// caption's decoding 657 against 717 ms (medians of 16 interleaved rounds): float32 beams are taken wherever their
    /// sums run in 512 bits (<see cref="SkinnyLinear.WideFor"/>). Not on Intel CPUs, where MKL's matrix-vector product
    /// takes Intel's own code paths and this kernel was not measured.</summary>
    internal static bool PreferredFor(ScalarType type, long beams) => Policy switch
    {
        SkinnyLinearPolicy.Always => true,
        SkinnyLinearPolicy.Never => false,
        _ => !CpuFeatures.IsIntel && (type == ScalarType.BFloat16 || beams == 1 || SkinnyLinear.WideFor(beams)),
    };

    // A range's scores (beams × heads × its tokens: 3 × 12 × 145 for beam 3 at 384 px) live on the stack up to this
    // many floats (32 KB).
    private const int StackScores = 8192;

    /// <summary>Attends <paramref name="q"/> [B,1,C] (C = heads·D) to <paramref name="keys"/> and
    /// <paramref name="values"/> [Bk,H,S,D], the image projections [Bk,S,C] split into heads (not copied), under
    /// <paramref name="mask"/> (null or additive [Bk,1,1,S]); B = n·Bk, rows i·n … i·n+n−1 being the n beams of
    /// image i. Returns the context [B,1,C], or null where this path does not apply.</summary>
    public static Tensor? TryAttend(Tensor q, Tensor keys, Tensor values, Tensor? mask, int heads)
    {
        // Each TorchSharp query is a native call: ask for as little as decides, and sizes and strides one dimension
        // at a time (TensorMemory.Shape: Tensor.shape and stride() cost ~1 µs each).
        if (Policy == SkinnyLinearPolicy.Never || heads <= 0 || !Avx2.IsSupported || !OpenMpTeam.IsAvailable || q.dim() != 3 || keys.dim() != 4) return null;
        var dtype = q.dtype;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16)) return null;
        long[] shape = TensorMemory.Shape(q);
        if (shape[1] != 1) return null;
        long batch = shape[0], width = shape[2], headDim = width / heads;
        long[] kv = TensorMemory.Shape(keys);
        long images = kv[0], tokens = kv[2];
        if (headDim * heads != width || kv[1] != heads || kv[3] != headDim || images == 0 || tokens == 0 || batch % images != 0) return null;
        if (!PreferredFor(dtype, batch / images)) return null;
        if (q.device_type != DeviceType.CPU || !q.is_contiguous()) return null;
        foreach (var t in (ReadOnlySpan<Tensor>)[keys, values])
        {
            // [Bk,S,C] memory seen as [Bk,H,S,D]: strides [S·C, D, C, 1]; the values' shape must be the keys' (kv).
            if (t.dtype != dtype || t.device_type != DeviceType.CPU) return null;
            if ((!ReferenceEquals(t, keys) && !TensorMemory.Shape(t).AsSpan().SequenceEqual(kv)) || !TensorMemory.HasStrides(t, [tokens * width, headDim, width, 1])) return null;
        }

        if (is_grad_enabled() && (q.requires_grad || keys.requires_grad || values.requires_grad)) return null;
        if (mask is not null && (mask.dtype != dtype || mask.device_type != DeviceType.CPU || !mask.is_contiguous()
            || !TensorMemory.Shape(mask).AsSpan().SequenceEqual([images, 1, 1, tokens])))
            return null;

        var context = empty([batch, 1, width], dtype);                                                // [B,1,C]
        int ranges = (int)Math.Clamp(RangesPerCore * Environment.ProcessorCount / images, 1, tokens);
        var layout = new Shape(images, batch / images, heads, headDim, tokens, ranges);
        var pointers = new Pointers(TensorMemory.ContiguousAddress(q), TensorMemory.DataAddress(keys), TensorMemory.DataAddress(values),
            mask is null ? 0 : TensorMemory.ContiguousAddress(mask), TensorMemory.ContiguousAddress(context));
        if (dtype == ScalarType.BFloat16)
            Run<BFloat16Element>(pointers, layout);
        else
            Run<Float32Element>(pointers, layout);
        return context;
    }

    // Token ranges per core: each range's keys and values are one contiguous block of memory, read in order, so the
    // hardware prefetchers keep up (a walk down one head's column, 64 values in every 768, ran at 3–9 GB/s).
    private const int RangesPerCore = 2;

    private readonly record struct Pointers(nint Q, nint Keys, nint Values, nint Mask, nint Context);

    private readonly record struct Shape(long Images, long Beams, long Heads, long HeadDim, long Tokens, int Ranges)
    {
        public long Width => Heads * HeadDim;

        // A range's partial result per (beam, head): its score maximum, its sum of exp(score − max), and its
        // unnormalised context of D values.
        public long PartialSize => Beams * Heads * (HeadDim + 2);
    }

    private static void Run<T>(Pointers p, Shape s) where T : struct, IKernelElement
    {
        // Both buffers are rented (12 layers × a step would allocate ~15 KB each); every range writes its slot of
        // `partial` before Merge reads it, so neither needs clearing.
        int count = checked((int)(s.Images * s.Beams * s.Width)), chunks = checked((int)(s.Images * s.Ranges));
        var query = ArrayPool<float>.Shared.Rent(count);                      // [B,C] widened once
        var partial = ArrayPool<float>.Shared.Rent(checked((int)(chunks * s.PartialSize)));
        try
        {
            for (int i = 0; i < count; i++) query[i] = T.Load1(p.Q, i);
            void Chunk(int chunk) => Range<T>(p, s, query, partial, chunk / s.Ranges, chunk % s.Ranges);
            if (!OpenMpTeam.TryRun(chunks, Chunk))
                for (int chunk = 0; chunk < chunks; chunk++) Chunk(chunk);
            Merge<T>(p, s, partial);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(partial);
            ArrayPool<float>.Shared.Return(query);
        }
    }

    // Keys and values of image tokens [first, last) against every beam and head of image `image`: scores, their
    // maximum and exp-sum, and the unnormalised weighted sum of the values, into this chunk's slot of `partial`.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Range<T>(Pointers p, Shape s, float[] query, float[] partial, long image, int range) where T : struct, IKernelElement
    {
        long per = (s.Tokens + s.Ranges - 1) / s.Ranges;
        long first = range * per, last = Math.Min(s.Tokens, first + per);
        int count = (int)Math.Max(0, last - first), pairs = checked((int)(s.Beams * s.Heads)), headDim = (int)s.HeadDim;
        long width = s.Width;
        var slot = partial.AsSpan((int)((image * s.Ranges + range) * s.PartialSize), (int)s.PartialSize);
        var maxima = slot[..pairs];
        var totals = slot.Slice(pairs, pairs);
        var sums = slot[(2 * pairs)..];                                       // [n,H,D]
        maxima.Fill(float.NegativeInfinity);
        if (count == 0) return;
        int scoreCount = pairs * count;
        Span<float> scores = scoreCount <= StackScores ? stackalloc float[scoreCount] : new float[scoreCount];  // [n,H,count]
        float scale = 1f / MathF.Sqrt(s.HeadDim);
        bool wide = SkinnyLinear.WideFor(s.Beams);
        fixed (float* queries = &query[image * s.Beams * width])             // [n,C] of this image
        {
            for (int j = 0; j < count; j++)
            {
                long token = (image * s.Tokens) + first + j;
                float masked = p.Mask == 0 ? 0f : T.Load1(p.Mask, token);
                for (long h = 0; h < s.Heads; h++)
                {
                    // [Bk,S,C] address of (image, token, head); the beams' dot products share each loaded key vector.
                    nint key = p.Keys + (nint)(((token * width) + (h * headDim)) * T.Size);
                    float* q0 = queries + (h * headDim);
                    long b = 0;
                    for (; s.Beams - b >= 2; b += 4)
                    {
                        long n = Math.Min(4, s.Beams - b);
                        float* qb = q0 + (b * width);
                        SkinnyLinear.DotBlock<T>(wide, key, qb, qb + width, qb + (Math.Min(2, n - 1) * width), qb + ((n - 1) * width), headDim, n, 0,
                            out var d0, out var d1, out var d2, out var d3);
                        Score(scores, maxima, (int)((b * s.Heads) + h), count, j, (d0 * scale) + masked);
                        Score(scores, maxima, (int)(((b + 1) * s.Heads) + h), count, j, (d1 * scale) + masked);
                        if (n > 2) Score(scores, maxima, (int)(((b + 2) * s.Heads) + h), count, j, (d2 * scale) + masked);
                        if (n > 3) Score(scores, maxima, (int)(((b + 3) * s.Heads) + h), count, j, (d3 * scale) + masked);
                    }

                    if (b < s.Beams)
                    {
                        float d = SkinnyLinear.Dot<T>(wide, key, q0 + (b * width), headDim);
                        Score(scores, maxima, (int)((b * s.Heads) + h), count, j, (d * scale) + masked);
                    }
                }
            }
        }

        for (int pair = 0; pair < pairs; pair++)
        {
            float max = maxima[pair], total = 0;
            var row = scores.Slice(pair * count, count);
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                // SelfAttentionKernel's vector e^x (x ≤ 0 here), within ~2 ulp of MathF.Exp; also where the sums run in
                // 256 bits (the exponentials are not what limits them).
                fixed (float* r = row)
                {
                    var shift = Vector512.Create(max);
                    var sum = Vector512<float>.Zero;
                    for (; j + 16 <= count; j += 16)
                    {
                        var e = SelfAttentionKernel.ExpNonPositive(Vector512.Load(r + j) - shift);
                        Vector512.Store(e, r + j);
                        sum += e;
                    }

                    total = Vector512.Sum(sum);
                }
            }

            for (; j < count; j++) total += row[j] = MathF.Exp(row[j] - max);
            totals[pair] = total;
        }

        sums.Clear();
        if (headDim % Vector256<float>.Count != 0)
        {
            for (int j = 0; j < count; j++)
            {
                long valueRow = ((image * s.Tokens) + first + j) * width;
                for (int pair = 0; pair < pairs; pair++)
                    CachedStepAttention.Accumulate<T>(sums.Slice(pair * headDim, headDim), scores[(pair * count) + j], p.Values, valueRow + ((pair % s.Heads) * headDim));
            }
        }
        else if (wide && headDim % Vector512<float>.Count == 0)
            WeightedValues<T, Width512<T>, Vector512<float>>(p, s, scores, sums, image, first, count);
        else
            WeightedValues<T, Width256<T>, Vector256<float>>(p, s, scores, sums, image, first, count);
    }

    // sums[pair] += Σ_j scores[pair, j] · values[token first + j, head of pair] for every (beam, head) pair, in vectors
    // of the width (headDim a multiple of its lanes): each value row read in order, each sum a fused multiply-add.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void WeightedValues<T, TWidth, TVector>(Pointers p, Shape s, ReadOnlySpan<float> scores, Span<float> sums,
        long image, long first, int count)
        where T : struct, IKernelElement where TWidth : struct, IVectorWidth<TVector> where TVector : struct
    {
        int headDim = (int)s.HeadDim, beams = (int)s.Beams, heads = (int)s.Heads;
        long width = s.Width;
        fixed (float* sum = sums)
        fixed (float* weights = scores)
        {
            for (int j = 0; j < count; j++)
            {
                long valueRow = ((image * s.Tokens) + first + j) * width;
                for (int b = 0, pair = 0; b < beams; b++)
                {
                    for (int h = 0; h < heads; h++, pair++)
                    {
                        var w = TWidth.Broadcast(weights[(pair * count) + j]);
                        float* to = sum + (pair * headDim);
                        long offset = valueRow + (h * headDim);
                        for (int d = 0; d < headDim; d += TWidth.Lanes)
                            TWidth.Store(TWidth.MultiplyAdd(w, TWidth.LoadWeights(p.Values, offset + d), TWidth.Load(to + d)), to + d);
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Score(Span<float> scores, Span<float> maxima, int pair, int count, int j, float score)
    {
        scores[(pair * count) + j] = score;
        maxima[pair] = MathF.Max(maxima[pair], score);
    }

    // The ranges of each image combined as flash attention combines blocks: every partial rescaled by
    // exp(its max − the overall max), then the sum divided by the combined exp-sum.
    private static void Merge<T>(Pointers p, Shape s, float[] partial) where T : struct, IKernelElement
    {
        int pairs = (int)(s.Beams * s.Heads), headDim = (int)s.HeadDim;
        Span<float> context = headDim <= 256 ? stackalloc float[headDim] : new float[headDim];
        for (long image = 0; image < s.Images; image++)
        {
            for (int pair = 0; pair < pairs; pair++)
            {
                float max = float.NegativeInfinity;
                for (int r = 0; r < s.Ranges; r++) max = MathF.Max(max, partial[(int)((image * s.Ranges + r) * s.PartialSize) + pair]);
                float total = 0;
                context.Clear();
                for (int r = 0; r < s.Ranges; r++)
                {
                    int at = (int)((image * s.Ranges + r) * s.PartialSize);
                    float rangeMax = partial[at + pair];
                    if (float.IsNegativeInfinity(rangeMax)) continue;               // an empty range
                    float factor = MathF.Exp(rangeMax - max);
                    total += factor * partial[at + pairs + pair];
                    var sum = partial.AsSpan(at + (2 * pairs) + (pair * headDim), headDim);
                    for (int d = 0; d < headDim; d++) context[d] += factor * sum[d];
                }

                long row = ((image * s.Beams) + (pair / s.Heads)) * s.Width + ((pair % s.Heads) * headDim);  // [B,1,C] offset
                float inverse = 1f / total;
                for (int d = 0; d < headDim; d++) T.Store(p.Context, row + d, context[d] * inverse);
            }
        }
    }
}
