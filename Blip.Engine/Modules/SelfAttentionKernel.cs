// softmax(q·kᵀ/√D)·v for the vision encoder's self-attention, read straight from the fused qkv projection
// [B,S,3,H,D] and written straight into the layout the output projection reads, [B,S,H·D]. Written by hand because
// libtorch's CPU attention is the vision encoder's slowest part: its flash SDPA at 577 tokens, 16 heads of 64, runs at
// 97–112 GFLOP/s in the encoder against 169–228 for the encoder's linears (the 2-vCPU Intel machine of
// docs/BENCHMARKS.md), and its explicit matmul/softmax/matmul form is slower still. This kernel, one (image, head)
// per chunk on libtorch's own OpenMP threads (OpenMpTeam), ran at 125–160 GFLOP/s there right after the qkv linear,
// against SDPA's 90–115 measured the same way. It runs only where nothing needs autograd and the layout is plain:
// CPU, float32, contiguous [B,S,3,H,D], libgomp found, and AVX-512 (Vector512 accelerated); bfloat16 is widened to
// float32 for it off Intel (WidensBFloat16); everything else keeps SDPA. Its sums run in another order than
// libtorch's and its softmax is exact over the whole row (no online rescaling), so results differ from SDPA's by float
// rounding (≤ 1e-6 for unit-variance inputs).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Bidirectional multi-head attention without a mask for the vision encoder, where it applies.</summary>
internal static unsafe class SelfAttentionKernel
{
    private const int Rows = 8;        // query rows per block: 8 rows × 32 keys of scores fill 16 of 32 registers
    private const int KeySlab = 32;    // keys per slab of the transposed keys

    // Per thread of the team: the transposed keys, the copied values, one block's scores and sums. Kept for the
    // thread's life (grown when a larger head comes) because fresh pages are slow to first touch on these machines.
    [ThreadStatic] private static float* scratch;
    [ThreadStatic] private static long scratchFloats;

    /// <summary>Whether the kernel is used where it applies: on by default; BLIP_ATTENTION_KERNEL=0 turns it off for a
    /// process (the speed harness uses it for before/after measurements).</summary>
    internal static bool Enabled { get; set; } = Parse(Environment.GetEnvironmentVariable("BLIP_ATTENTION_KERNEL"));

    /// <summary>Whether the kernel needs Vector512 in hardware (AVX-512). Tests turn this off to run the kernel through
    /// the models on any machine, where .NET emulates the vector operations (correct, slow).</summary>
    internal static bool RequireAcceleration { get; set; } = true;

    /// <summary>The attention of <paramref name="mixed"/> <c>[B,S,3,H,D]</c> (the fused q, k, v projection) as
    /// <c>[B,S,H·D]</c>, or null where the kernel does not apply (the caller then uses SDPA).</summary>
    public static Tensor? TryForward(Tensor mixed, int heads, int headDim)
    {
        ArgumentNullException.ThrowIfNull(mixed);
        if (mixed.dtype == ScalarType.BFloat16)
        {
            if (!WidensBFloat16 || !Applies(mixed, heads, headDim, ScalarType.BFloat16)) return null;
            // Widened exactly; the context is rounded to bfloat16 once (SDPA's bfloat16 flash attention also rounds
            // its probabilities before multiplying them with the values).
            using var wide = mixed.to(ScalarType.Float32);
            using var context = Compute(wide, heads, headDim);
            return context.to(ScalarType.BFloat16);
        }

        return Applies(mixed, heads, headDim) ? Compute(mixed, heads, headDim) : null;
    }

    /// <summary>Whether bfloat16 attention is widened to float32 for the kernel instead of going to libtorch's
    /// bfloat16 SDPA: on non-Intel CPUs, where that SDPA's matrix products go to MKL's bfloat16 gemm, which converts to
    /// float32 and runs its own float32 kernel off Intel (17.7% of a bf16 vision forward's samples on the AMD EPYC Zen 4
    /// machine of docs/BENCHMARKS.md; widened, the forward took 1,848 against 1,992 ms, medians of 12 interleaved
    /// rounds). Kept off on Intel CPUs: with AMX (machine 2) libtorch's own bfloat16 SDPA is fast; without it (machine 5)
    /// widening saved ~0.1 s of a 1.5–1.6 s vision forward, but there the full-size bfloat16 captions then left
    /// float32's tokens at steps 13 and 14 where transformers' bfloat16 and the SDPA route keep them (a near tie on
    /// random weights, FullSizeParityTests), so the accuracy check decided it. Tests set it.</summary>
    internal static bool WidensBFloat16 { get; set; } = !CpuFeatures.IsIntel;

    /// <summary>The kernel itself, wherever the layout allows (also without AVX-512, where .NET emulates the vector
    /// operations slowly; tests use that): on libtorch's OpenMP team when there is one, else on the calling thread.</summary>
    internal static Tensor Compute(Tensor mixed, int heads, int headDim)
    {
        ArgumentNullException.ThrowIfNull(mixed);
        if (!Fits(mixed, heads, headDim))
            throw new ArgumentException($"attention kernel: expected a contiguous float32 CPU tensor [B,S,3,{heads},{headDim}] with B·{heads} chunks, got {mixed.dtype} {mixed.device_type} [{string.Join(",", mixed.shape)}]", nameof(mixed));
        int batch = (int)mixed.shape[0], tokens = (int)mixed.shape[1];
        var context = empty(new long[] { batch, tokens, (long)heads * headDim }, ScalarType.Float32);  // [B,S,H·D]
        var shape = new Shape(batch, tokens, heads, headDim);
        fixed (byte* input = mixed.bytes)
        fixed (byte* output = context.bytes)
        {
            float* q = (float*)input, o = (float*)output;
            void Chunk(int chunk) => Head(q, o, shape, chunk / heads, chunk % heads);
            if (!OpenMpTeam.TryRun(batch * heads, Chunk))
                for (int chunk = 0; chunk < batch * heads; chunk++) Chunk(chunk);
        }

        return context;
    }

    /// <summary>Whether <see cref="TryForward"/> takes the kernel for this input.</summary>
    internal static bool Applies(Tensor mixed, int heads, int headDim, ScalarType dtype = ScalarType.Float32) =>
        Enabled && (Vector512.IsHardwareAccelerated || !RequireAcceleration) && OpenMpTeam.IsAvailable && Fits(mixed, heads, headDim, dtype)
        && !(is_grad_enabled() && mixed.requires_grad);

    // The layout the kernel reads: contiguous [B,S,3,H,D] of `dtype` (float32; bfloat16 where TryForward widens it)
    // on the CPU, small enough in float32 for one Span<byte>.
    private static bool Fits(Tensor mixed, int heads, int headDim, ScalarType dtype = ScalarType.Float32)
    {
        if (mixed.device_type != DeviceType.CPU || mixed.dtype != dtype || !mixed.is_contiguous()) return false;
        if (heads <= 0 || headDim <= 0 || mixed.dim() != 5) return false;
        if (mixed.shape[2] != 3 || mixed.shape[3] != heads || mixed.shape[4] != headDim) return false;
        if (mixed.shape[0] <= 0 || mixed.shape[1] <= 0) return false;
        return mixed.numel() <= int.MaxValue / sizeof(float) && mixed.shape[0] * heads <= int.MaxValue;
    }

    /// <summary>BLIP_ATTENTION_KERNEL: unset, "" or "1" → on, "0" → off; anything else is refused, naming it.</summary>
    internal static bool Parse(string? value) => value?.Trim() switch
    {
        null or "" or "1" => true,
        "0" => false,
        _ => throw new ArgumentException($"BLIP_ATTENTION_KERNEL must be 0 or 1, got '{value}'", nameof(value)),
    };

    // One head of one image: keys transposed into slabs, values copied, then blocks of 8 query rows: scores against
    // every key, softmax over the row, weighted values, written into the context at this head's columns.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // runs once per layer: skip the unoptimised JIT tier
    private static void Head(float* mixed, float* context, Shape shape, int image, int head)
    {
        int tokens = shape.Tokens, dim = shape.HeadDim;
        int slabs = (tokens + KeySlab - 1) / KeySlab, keysPad = slabs * KeySlab, dimPad = (dim + 15) & ~15;
        float* keys = Scratch((long)dim * keysPad + (long)tokens * dimPad + (long)Rows * keysPad + (long)Rows * dimPad);
        float* values = keys + (long)dim * keysPad;              // [S, dimPad]
        float* scores = values + (long)tokens * dimPad;          // [Rows, keysPad]
        float* block = scores + (long)Rows * keysPad;            // [Rows, dimPad]
        long rowStride = 3L * shape.Heads * dim;                 // floats from one token to the next in [B,S,3,H,D]
        float* q0 = mixed + (long)image * tokens * rowStride + (long)head * dim;
        float* k0 = q0 + (long)shape.Heads * dim, v0 = k0 + (long)shape.Heads * dim;

        CopyKeysAndValues(k0, v0, rowStride, tokens, dim, keysPad, dimPad, keys, values);
        float scale = 1f / MathF.Sqrt(dim);
        float* sums = stackalloc float[Rows];
        float** queries = stackalloc float*[Rows];
        float** probabilities = stackalloc float*[Rows];
        for (int r = 0; r < Rows; r++) probabilities[r] = scores + (long)r * keysPad;
        long contextStride = (long)shape.Heads * dim;
        for (int first = 0; first < tokens; first += Rows)
        {
            int rows = Math.Min(Rows, tokens - first);
            for (int r = 0; r < Rows; r++) queries[r] = q0 + (first + Math.Min(r, rows - 1)) * rowStride;  // a short block repeats its last row
            for (int slab = 0; slab < slabs; slab++)
                Block8x32(queries, keys + (long)slab * dim * KeySlab, KeySlab, dim, scores + slab * KeySlab, keysPad);
            for (int r = 0; r < rows; r++) sums[r] = Softmax(scores + (long)r * keysPad, tokens, scale);
            int c = 0;
            for (; c + 32 <= dimPad; c += 32) Block8x32(probabilities, values + c, dimPad, tokens, block + c, dimPad);
            for (; c < dimPad; c += 16) Block8x16(probabilities, values + c, dimPad, tokens, block + c, dimPad);
            float* output = context + ((long)image * tokens + first) * contextStride + (long)head * dim;
            for (int r = 0; r < rows; r++)
            {
                float inverse = 1 / sums[r];
                float* from = block + (long)r * dimPad, to = output + r * contextStride;
                for (int x = 0; x < dim; x++) to[x] = from[x] * inverse;
            }
        }
    }

    // keys: [slab][D][32] (key j at slab j/32, lane j%32), zero past the last key; values: [S, dimPad], zero past D.
    // The source rows lie 3·H·D floats apart, beyond what the hardware prefetcher follows: rows ahead are prefetched.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // runs once per layer: skip the unoptimised JIT tier
    private static void CopyKeysAndValues(float* k0, float* v0, long rowStride, int tokens, int dim, int keysPad, int dimPad, float* keys, float* values)
    {
        const int Ahead = 6;
        for (int j = 0; j < keysPad; j++)
        {
            float* slab = keys + (long)(j / KeySlab) * dim * KeySlab + j % KeySlab;
            if (j >= tokens)
            {
                for (int c = 0; c < dim; c++) slab[c * KeySlab] = 0;
                continue;
            }

            float* key = k0 + j * rowStride, value = v0 + j * rowStride, copy = values + (long)j * dimPad;
            if (j + Ahead < tokens && Sse.IsSupported)
            {
                for (int c = 0; c < dim; c += 16)
                {
                    Sse.Prefetch0(key + Ahead * rowStride + c);
                    Sse.Prefetch0(value + Ahead * rowStride + c);
                }
            }

            for (int c = 0; c < dim; c++) slab[c * KeySlab] = key[c];
            int x = 0;
            for (; x + 16 <= dim; x += 16) Vector512.Store(Vector512.Load(value + x), copy + x);
            for (; x < dim; x++) copy[x] = value[x];
            for (; x < dimPad; x++) copy[x] = 0;
        }
    }

    // c[r, 0..31] = Σ_i a_r[i] · b[i·bStride + 0..31] for 8 rows a_r: the scores of 8 query rows against a slab of 32
    // keys (a_r = q_r, b = the slab, i = dimension) and the weighted values of 8 probability rows for 32 columns
    // (a_r = p_r, b = the values, i = token).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // runs once per layer: skip the unoptimised JIT tier
    private static void Block8x32(float** a, float* b, long bStride, int count, float* c, long cStride)
    {
        Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default, c0 = default, c1 = default, d0 = default, d1 = default,
            e0 = default, e1 = default, f0 = default, f1 = default, g0 = default, g1 = default, h0 = default, h1 = default;
        float* ra = a[0], rb = a[1], rc = a[2], rd = a[3], re = a[4], rf = a[5], rg = a[6], rh = a[7];
        for (int i = 0; i < count; i++, b += bStride)
        {
            var low = Vector512.Load(b);
            var high = Vector512.Load(b + 16);
            var x = Vector512.Create(ra[i]); a0 = Vector512.FusedMultiplyAdd(x, low, a0); a1 = Vector512.FusedMultiplyAdd(x, high, a1);
            x = Vector512.Create(rb[i]); b0 = Vector512.FusedMultiplyAdd(x, low, b0); b1 = Vector512.FusedMultiplyAdd(x, high, b1);
            x = Vector512.Create(rc[i]); c0 = Vector512.FusedMultiplyAdd(x, low, c0); c1 = Vector512.FusedMultiplyAdd(x, high, c1);
            x = Vector512.Create(rd[i]); d0 = Vector512.FusedMultiplyAdd(x, low, d0); d1 = Vector512.FusedMultiplyAdd(x, high, d1);
            x = Vector512.Create(re[i]); e0 = Vector512.FusedMultiplyAdd(x, low, e0); e1 = Vector512.FusedMultiplyAdd(x, high, e1);
            x = Vector512.Create(rf[i]); f0 = Vector512.FusedMultiplyAdd(x, low, f0); f1 = Vector512.FusedMultiplyAdd(x, high, f1);
            x = Vector512.Create(rg[i]); g0 = Vector512.FusedMultiplyAdd(x, low, g0); g1 = Vector512.FusedMultiplyAdd(x, high, g1);
            x = Vector512.Create(rh[i]); h0 = Vector512.FusedMultiplyAdd(x, low, h0); h1 = Vector512.FusedMultiplyAdd(x, high, h1);
        }

        // Stores only after the loop: a call while the accumulators are live makes the JIT spill them every iteration.
        Store2(a0, a1, c); c += cStride; Store2(b0, b1, c); c += cStride;
        Store2(c0, c1, c); c += cStride; Store2(d0, d1, c); c += cStride;
        Store2(e0, e1, c); c += cStride; Store2(f0, f1, c); c += cStride;
        Store2(g0, g1, c); c += cStride; Store2(h0, h1, c);
    }

    // The same for 16 columns: the last columns of a head whose width is not a multiple of 32.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // runs once per layer: skip the unoptimised JIT tier
    private static void Block8x16(float** a, float* b, long bStride, int count, float* c, long cStride)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        float* ra = a[0], rb = a[1], rc = a[2], rd = a[3], re = a[4], rf = a[5], rg = a[6], rh = a[7];
        for (int i = 0; i < count; i++, b += bStride)
        {
            var v = Vector512.Load(b);
            s0 = Vector512.FusedMultiplyAdd(Vector512.Create(ra[i]), v, s0); s1 = Vector512.FusedMultiplyAdd(Vector512.Create(rb[i]), v, s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.Create(rc[i]), v, s2); s3 = Vector512.FusedMultiplyAdd(Vector512.Create(rd[i]), v, s3);
            s4 = Vector512.FusedMultiplyAdd(Vector512.Create(re[i]), v, s4); s5 = Vector512.FusedMultiplyAdd(Vector512.Create(rf[i]), v, s5);
            s6 = Vector512.FusedMultiplyAdd(Vector512.Create(rg[i]), v, s6); s7 = Vector512.FusedMultiplyAdd(Vector512.Create(rh[i]), v, s7);
        }

        Vector512.Store(s0, c); c += cStride; Vector512.Store(s1, c); c += cStride;
        Vector512.Store(s2, c); c += cStride; Vector512.Store(s3, c); c += cStride;
        Vector512.Store(s4, c); c += cStride; Vector512.Store(s5, c); c += cStride;
        Vector512.Store(s6, c); c += cStride; Vector512.Store(s7, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(Vector512<float> low, Vector512<float> high, float* to)
    {
        Vector512.Store(low, to);
        Vector512.Store(high, to + 16);
    }

    // row[j] = exp((row[j] − max)·scale) for j < tokens; returns their sum. Entries past `tokens` are left as they are.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]  // runs once per layer: skip the unoptimised JIT tier
    private static float Softmax(float* row, int tokens, float scale)
    {
        int whole = tokens & ~15;
        var highest = Vector512.Create(float.NegativeInfinity);
        // MaxNative (one vmaxps): Max's NaN and signed-zero rules cost three dependent instructions per vector here.
        for (int j = 0; j < whole; j += 16) highest = Vector512.MaxNative(highest, Vector512.Load(row + j));
        float max = float.NegativeInfinity;
        for (int i = 0; i < Vector512<float>.Count; i++) max = highest[i] > max ? highest[i] : max;
        for (int j = whole; j < tokens; j++) max = row[j] > max ? row[j] : max;

        var factor = Vector512.Create(scale);
        var shift = Vector512.Create(-max * scale);
        var sum = Vector512<float>.Zero;
        for (int j = 0; j < whole; j += 16)
        {
            var e = ExpNonPositive(Vector512.FusedMultiplyAdd(Vector512.Load(row + j), factor, shift));
            Vector512.Store(e, row + j);
            sum += e;
        }

        float total = Vector512.Sum(sum);
        for (int j = whole; j < tokens; j++)
        {
            float e = MathF.Exp(MathF.FusedMultiplyAdd(row[j], scale, -max * scale));
            row[j] = e;
            total += e;
        }

        return total;
    }

    // e^x for x ≤ 0, within ~2 ulp: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for an exact product), Cephes'
    // degree-6 polynomial for e^r, times 2^n. Below −87.3 (where e^x leaves float's normal range) the result is
    // e^−87.3 ≈ 1.2e-38, which no softmax sum notices. Written by hand: .NET's Vector512.Exp was measured at 10–30 ms
    // per layer, more than the attention's matrix products.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ExpNonPositive(Vector512<float> x)
    {
        x = Vector512.MaxNative(x, Vector512.Create(-87.3f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        if (Avx512F.IsSupported) return Avx512F.Scale(p, n);
        var power = (Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23;  // 2^n for −126 ≤ n ≤ 0
        return p * power.AsSingle();
    }

    private static float* Scratch(long floats)
    {
        if (scratchFloats < floats)
        {
            if (scratch != null) NativeMemory.AlignedFree(scratch);
            scratch = null;
            scratchFloats = 0;
            scratch = (float*)NativeMemory.AlignedAlloc(checked((nuint)(floats * sizeof(float))), 64);
            scratchFloats = floats;
        }

        return scratch;
    }

    private readonly record struct Shape(int Batch, int Tokens, int Heads, int HeadDim);
}
