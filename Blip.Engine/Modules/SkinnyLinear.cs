// x·Wᵀ + b for inputs of a few rows: a decoding step (one token per sequence, a few beams). Written by hand
// because libtorch's CPU kernels for these shapes stay far below the memory bandwidth that bounds them. Measured on
// the 2-vCPU AVX2 machine of docs/BENCHMARKS.md, reading a 3072×768 fp32 weight: nn.functional.linear 8.6 GB/s for
// one row (MKL's gemv runs on one thread) and 3.1 GB/s for three rows (small-M gemm); this kernel 14–17 GB/s and
// 12–13 GB/s. It runs only where nothing needs autograd and the layout is plain: float32 or bfloat16 (input, weight
// and bias of one dtype), CPU, contiguous weight, AVX2 + FMA (sums in 512-bit vectors where AVX-512 is there:
// WideFor), at most MaxRows rows; everything else goes to OneDnnLinear (many float32 rows on AMD CPUs with AVX-512,
// where MKL keeps to AVX2) or nn.functional.linear unchanged; on Zen 4, steps of many rows take a weight's packed
// oneDNN copy instead once it has one (PackedFirstFor). Its float32 sums run in another order than MKL's, so
// results differ by float rounding (about 1e-6 relative), as MKL's differ from OpenBLAS's. bfloat16 values widen
// exactly to float32 (a 16-bit shift), are summed in float32 and the output is rounded once to nearest-even, as
// libtorch rounds.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Blip.Engine.Checkpoints;
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

    // Work items per core: 2 balanced a 3072×768 weight best on 2 vCPUs (1: 13.7 GB/s, 2: 16.7). They run on libtorch's
    // OpenMP team (OpenMpTeam: as many threads as libtorch uses); where libgomp is not found, on SpinningTeam (the
    // thread pool when another thread owns it).
    private const int ChunksPerCore = 2;

    /// <summary>When the kernel is used: by default where it was measured faster than libtorch (see
    /// <see cref="PreferredFor"/>). The environment variable BLIP_SKINNY_LINEAR=0 (never) or =1 (always, where the
    /// layout allows) sets it for a process; the speed harness uses them for before/after measurements.</summary>
    internal static SkinnyLinearPolicy Policy { get; set; } = SkinnyLinearPolicies.Parse(Environment.GetEnvironmentVariable("BLIP_SKINNY_LINEAR"));

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
            return OneDnnLinear.Forward(input, weight, bias);
        return Packed(input, weight, bias) ?? Launch(input, [weight], [bias], Epilogue.None)[0];
    }

    /// <summary><c>act(layer(input))</c> for a config's <c>hidden_act</c>: <see cref="ForwardGelu"/> for the exact GELU,
    /// else the linear then <see cref="Activation.Apply"/>.</summary>
    public static Tensor ForwardActivated(Linear layer, Tensor input, string act)
    {
        if (Activation.IsExactGelu(act)) return ForwardGelu(layer, input);
        using var linear = Forward(layer, input);
        return Activation.Apply(act, linear);
    }

    /// <summary><c>gelu(layer(input))</c> with the exact (erf) GELU of <c>nn.functional.gelu</c>; where the kernel
    /// applies, each output goes through the GELU as soon as its chunk is summed (no second pass, no libtorch call).</summary>
    public static Tensor ForwardGelu(Linear layer, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(input);
        if (!Applies(input, layer.weight!, layer.bias))
        {
            using var linear = OneDnnLinear.Forward(input, layer.weight!, layer.bias);
            return nn.functional.gelu(linear);
        }

        if (Packed(input, layer.weight!, layer.bias) is { } packed)
        {
            using (packed) return nn.functional.gelu(packed);
        }

        return Launch(input, [layer.weight!], [layer.bias], Epilogue.Gelu)[0];
    }

    /// <summary>Each of <paramref name="layers"/> applied to the same <paramref name="input"/> (a step's query, key and
    /// value projections). Where the kernel takes all of them they run as one job on the team: its threads start once
    /// and stream the weights one after another.</summary>
    public static Tensor[] Forward(ReadOnlySpan<Linear> layers, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var weights = new Tensor[layers.Length];
        var biases = new Tensor?[layers.Length];
        bool all = layers.Length > 0;
        for (int i = 0; i < layers.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(layers[i], nameof(layers));
            (weights[i], biases[i]) = (layers[i].weight!, layers[i].bias);
            all &= Applies(input, weights[i], biases[i]) && weights[i].dtype == weights[0].dtype;
        }

        if (all && !TakesPacked(input, weights[0])) return Launch(input, weights, biases, Epilogue.None);
        var outputs = new Tensor[layers.Length];
        for (int i = 0; i < layers.Length; i++) outputs[i] = Forward(input, weights[i], biases[i]);
        return outputs;
    }

    // The kernel for weights of one dtype that each passed Applies with this input (so they share its width).
    private static Tensor[] Launch(Tensor input, Tensor[] weights, Tensor?[] biases, Epilogue epilogue)
    {
        // Sizes one dimension at a time (TensorMemory.Shape: Tensor.shape costs ~1 µs a call).
        var sizes = new (long Out, long In)[weights.Length];
        for (int i = 0; i < weights.Length; i++) sizes[i] = (weights[i].size(0), weights[i].size(1));

        long[] inputShape = TensorMemory.Shape(input);
        long rows = input.numel() / sizes[0].In;
        var dtype = weights[0].dtype;
        var outputs = new Tensor[weights.Length];
        var plainBiases = new Tensor?[weights.Length];
        using var x = input.contiguous();
        try
        {
            for (int i = 0; i < weights.Length; i++)
            {
                var shape = (long[])inputShape.Clone();
                shape[^1] = sizes[i].Out;
                outputs[i] = empty(shape, dtype);                                // [..., O_i]
                plainBiases[i] = biases[i]?.contiguous();
            }

            if (dtype == ScalarType.BFloat16)
                RunBFloat16(x, weights, sizes, plainBiases, outputs, rows, epilogue);
            else
                Run<Float32Element>(x.bytes, weights, sizes, plainBiases, outputs, rows, epilogue);
            return outputs;
        }
        catch
        {
            foreach (var output in outputs) output?.Dispose();
            throw;
        }
        finally
        {
            foreach (var bias in plainBiases) bias?.Dispose();  // new handles (contiguous() never returns its receiver)
        }
    }

    /// <summary>Whether every linear of a model whose activations look like <paramref name="hidden"/> [..., C] goes
    /// to the kernel (weights on the same device and dtype): then libtorch only runs small element-wise work.</summary>
    public static bool Covers(Tensor hidden)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        long width = TensorMemory.LastSize(hidden);
        if (hidden.device_type != DeviceType.CPU || hidden.dim() < 1 || width <= 0) return false;
        long rows = hidden.numel() / width;
        return rows >= 1 && rows <= MaxRows && PreferredFor(hidden.dtype, rows) && !PackedFirstFor(hidden.dtype, rows)
            && !(is_grad_enabled() && hidden.requires_grad);
    }

    /// <summary>Whether a step of <paramref name="rows"/> input rows of <paramref name="type"/> takes a weight's packed
    /// oneDNN copy (<see cref="OneDnnPackedLinear"/>: memory-mapped float32 and converted bfloat16 weights, packed on
    /// their <see cref="StepPackOnUse"/>-th such use) before the kernel. Under Auto on Zen 4 only: float32 from 5 rows,
    /// bfloat16 (with AVX512-BF16) from 4. Measured on machine 3 (docs/BENCHMARKS.md, optimisation 37), the decoding
    /// of 20-token captions, interleaved rounds in one process (medians, kernel against packed): float32 8 images 2,054
    /// against 1,722 ms and 2,011 against 1,635, 2 images × 3 beams 1,276 against 939, 5 images 1,241 against 1,196, but
    /// 4 images 1,155 against 1,163 and 1,241 against 1,265, and 3 beams 601 against 714 and 632 against 733; bfloat16 3
    /// beams faster packed in 7 of 9 runs (411 against 366, 495 against 452, 458 against 444; but 466 against 489), 4
    /// beams 482 against 446 and 571 against 500, 4 images 691 against 636, but 2 beams 429 against 470. With the
    /// kernel's L2 prefetch (<see cref="L2PrefetchFor"/>, optimisation 38) bfloat16 3 beams run faster on the kernel
    /// (packed 458 and 513 against 380 and 398 ms), 3 images tie (555 against 542), 4 beams and 4 images tie (458
    /// against 463, 654 against 676: packed kept), float32 5–8 rows stay packed (8 images 1,654 against 1,733, 2 × 3
    /// beams 893 against 935, 5 images 1,238 against 1,197). Zen 5 and
    /// Intel were not measured. Until a weight is packed, and for weights that never are (owned float32), the kernel
    /// runs. Tests force it (<see cref="PackedStepsOverride"/>).</summary>
    internal static bool PackedFirstFor(ScalarType type, long rows) =>
        OneDnnLinear.TakesDType(type)
        && (PackedStepsOverride ?? (Policy == SkinnyLinearPolicy.Auto && CpuFeatures.IsAmdZen4 && rows >= (type == ScalarType.BFloat16 ? 4 : 5)));

    /// <summary>True sends steps of every row count to a weight's packed copy where it has one, false none; null leaves
    /// it to <see cref="PackedFirstFor"/>'s rule. Read from BLIP_PACKED_STEPS (1, 0, or unset/auto) for a process, for
    /// before/after measurements; tests set it.</summary>
    internal static bool? PackedStepsOverride { get; set; } = ParseOverride(Environment.GetEnvironmentVariable("BLIP_PACKED_STEPS"), "BLIP_PACKED_STEPS");

    /// <summary>The value of the switch <paramref name="variable"/> (BLIP_PACKED_STEPS, BLIP_L2_PREFETCH) as an override:
    /// "1" → true, "0" → false, unset or "auto" → null; anything else is refused, naming the variable.</summary>
    internal static bool? ParseOverride(string? value, string variable) => SkinnyLinearPolicies.Parse(value, variable) switch
    {
        SkinnyLinearPolicy.Always => true,
        SkinnyLinearPolicy.Never => false,
        _ => null,
    };

    /// <summary>How many linears took a packed copy through <see cref="PackedFirstFor"/> in this process (tests).</summary>
    internal static long PackedSteps => Interlocked.Read(ref packedSteps);

    private static long packedSteps;

    // Whether PackedFirstFor takes this weight's steps; asks the tensors nothing where the rule cannot hold.
    private static bool TakesPacked(Tensor input, Tensor weight) =>
        (PackedStepsOverride is not null || CpuFeatures.IsAmdZen4) && PackedFirstFor(weight.dtype, input.numel() / weight.size(1));

    /// <summary>The use of a weight by steps that <see cref="PackedFirstFor"/> takes on which it is packed: a caption
    /// runs each decoder weight once a step (19 steps for 20 tokens), so a lone batch or beam caption never packs and a
    /// process that keeps captioning packs within its fourth. Packing the decoder's 0.49 GB costs about what one batch
    /// of 8 gains from it: on machine 3, `blip caption --batch-size 8` of eight images packing on the fourth step took
    /// 23.5 and 22.2 s against 22.7 and 21.8 s without, and peaked 83 MB higher (2,472,752 and 2,474,644 against
    /// 2,389,632 and 2,389,524 KiB). Tests set it.</summary>
    internal static int StepPackOnUse { get; set; } = 3 * 20 + 1;

    // The linear on the weight's packed copy where TakesPacked and the weight is packed (or packs on this use); else null.
    private static Tensor? Packed(Tensor input, Tensor weight, Tensor? bias)
    {
        if (!TakesPacked(input, weight) || OneDnnPackedLinear.TryForward(input, weight, bias, StepPackOnUse) is not { } output) return null;
        Interlocked.Increment(ref packedSteps);
        return output;
    }

    /// <summary>One libtorch thread on the calling thread while a decoding step whose linears all run in the kernel
    /// (<see cref="Covers"/>) does its remaining small work, where the kernel runs on <see cref="SpinningTeam"/>; a
    /// scope that changes nothing otherwise. On libtorch's own OpenMP team (<see cref="OpenMpTeam"/>) the kernel and
    /// libtorch share the same threads, so there is no spinning worker to keep away. Without image states to project
    /// (<paramref name="encoderStates"/> null) the step has no large linear for libtorch.</summary>
    public static TorchThreadScope StepThreads(Tensor hidden, Tensor? encoderStates) =>
        encoderStates is null && Covers(hidden) && !OpenMpTeam.IsAvailable ? TorchThreadScope.Use(1) : default;

    /// <summary>Whether linears of <paramref name="type"/> with <paramref name="rows"/> input rows go to the kernel
    /// under <see cref="Policy"/> on this CPU. Auto follows what was measured on two machines (docs/BENCHMARKS.md):
    /// libtorch's float32 few-row linear is MKL's gemv, which takes its fast path on Intel CPUs only (AMD EPYC, AVX2:
    /// 8.6 GB/s for one row, 3.1 for three, against the kernel's 14–17 and 12–13; on an Intel Xeon with AVX-512 a
    /// caption's decoding in float32 took 0.86 s with libtorch and 1.13 s with the kernel, beam 3 1.01 and 1.51 s).
    /// libtorch's bfloat16 linear is slow where the CPU lacks AVX512-BF16 (AMD: a greedy caption 4.8× slower than
    /// float32); with it, its one-row linear still reads weights at ~10 GB/s, and the kernel decodes a greedy caption
    /// faster (0.81 against 0.96 s) but beams slower (1.70 against 1.11 s): there the kernel takes one row only. On an
    /// AMD EPYC with AVX512-BF16 (Zen 4) libtorch's bfloat16 linear reads 8.0–8.7 GB/s for one to three rows against the
    /// kernel's 11–18 (a beam-3 caption's decoding 0.73 against 0.89 s) and is faster from 8 rows on (7.8 against 6.4
    /// GB/s): there the kernel takes up to 4 rows, one pass of its 4-row block.</summary>
    internal static bool PreferredFor(ScalarType type, long rows) => Fma.IsSupported && Avx2.IsSupported
        && type is ScalarType.Float32 or ScalarType.BFloat16 && Policy switch
        {
            SkinnyLinearPolicy.Always => true,
            SkinnyLinearPolicy.Never => false,
            _ => type == ScalarType.Float32 ? !CpuFeatures.IsIntel : !CpuFeatures.HasAvx512BFloat16 || rows == 1 || (!CpuFeatures.IsIntel && rows <= 4),
        };

    /// <summary>Whether <see cref="Forward(Tensor, Tensor, Tensor?)"/> takes the kernel for these arguments.</summary>
    internal static bool Applies(Tensor input, Tensor weight, Tensor? bias)
    {
        if (input.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU) return false;
        if (input.dtype != weight.dtype || weight.dim() != 2 || !weight.is_contiguous()) return false;
        if (weight.numel() > int.MaxValue / sizeof(float)) return false;  // read through one Span<byte>
        long outFeatures = weight.size(0), inFeatures = weight.size(1);   // size(d), not shape: see TensorMemory.Shape
        if (bias is not null && (bias.device_type != DeviceType.CPU || bias.dtype != weight.dtype || bias.dim() != 1 || bias.size(0) != outFeatures)) return false;
        if (input.dim() < 1 || inFeatures == 0 || outFeatures == 0 || TensorMemory.LastSize(input) != inFeatures) return false;
        long rows = input.numel() / inFeatures;
        if (rows < 1 || rows > MaxRows || !PreferredFor(weight.dtype, rows)) return false;
        bool needsGrad = is_grad_enabled() && (input.requires_grad || weight.requires_grad || (bias?.requires_grad ?? false));
        return !needsGrad;
    }

    // bfloat16: the few input rows are widened once into a float32 buffer; weights and bias are widened as read.
    private static void RunBFloat16(Tensor x, Tensor[] weights, (long Out, long In)[] sizes, Tensor?[] biases, Tensor[] outputs, long rows,
        Epilogue epilogue)
    {
        int count = checked((int)(rows * sizes[0].In));
        var wide = ArrayPool<float>.Shared.Rent(count);
        try
        {
            var narrow = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(x.bytes);
            for (int i = 0; i < count; i++) wide[i] = BFloat16Element.Widen(narrow[i]);
            Run<BFloat16Element>(System.Runtime.InteropServices.MemoryMarshal.AsBytes(wide.AsSpan(0, count)), weights, sizes, biases, outputs, rows, epilogue);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(wide);
        }
    }

    private static unsafe void Run<T>(ReadOnlySpan<byte> input, Tensor[] weights, (long Out, long In)[] sizes, Tensor?[] biases,
        Tensor[] outputs, long rows, Epilogue epilogue) where T : struct, IKernelElement
    {
        fixed (byte* xp = input)
        {
            var jobs = new KernelArgs[weights.Length];
            var chunks = new List<(int Job, long First, long Last)>();
            for (int j = 0; j < weights.Length; j++)
            {
                var (outFeatures, inFeatures) = sizes[j];
                jobs[j] = new KernelArgs((nint)xp, TensorMemory.ContiguousAddress(weights[j]), biases[j] is { } bias ? TensorMemory.ContiguousAddress(bias) : 0,
                    TensorMemory.ContiguousAddress(outputs[j]), rows, outFeatures, inFeatures, epilogue);
                int parts = outFeatures * inFeatures < ParallelElements ? 1 : ChunksPerCore * Environment.ProcessorCount;
                long per = (outFeatures + parts - 1) / parts;
                for (long first = 0; first < outFeatures; first += per) chunks.Add((j, first, Math.Min(outFeatures, first + per)));
            }

            void Chunk(int c) => Rows<T>(jobs[chunks[c].Job], chunks[c].First, chunks[c].Last);
            if (chunks.Count == 1)
                Chunk(0);
            else if (!OpenMpTeam.TryRun(chunks.Count, Chunk) && !SpinningTeam.TryRun(chunks.Count, Chunk))
                Parallel.For(0, chunks.Count, Chunk);
        }
    }

    // Weight rows fetched ahead of the one being summed (software prefetch into L1). The hardware prefetcher alone kept
    // one thread's stream short of the bandwidth: on the Intel machine of docs/BENCHMARKS.md a decoder's linears
    // (0.49 GB fp32, read from DRAM) went from 14 to 18 GB/s for one row and from 11 to 15 GB/s in bfloat16 (0 → 2
    // rows ahead; 1 and 4 were no better). On the Zen 4 of machine 3 float32, and bfloat16 for one row, stream faster
    // without it: a 20-token caption's decoding (16–20 interleaved rounds in one process, medians) bfloat16 one row
    // 304 → 260 and 315 → 275 ms, float32 one row 496 → 465 ms, float32 3 beams 617 → 576, 626 → 574 and 651 → 627 ms;
    // the step's linears alone (0, 1, 2, 4, 8 rows ahead) fastest at 0 for one row, and float32 8 rows 38.5 → 35.7 ms.
    // bfloat16 beams kept it there (3 beams 393, 461 and 438 ms with it against 454, 518 and 473 without) until the L2
    // prefetch below replaced it (L2PrefetchFor). Not measured on Zen 5.
    private const int Prefetch = 2;

    /// <summary>How many weight rows ahead the kernel prefetches into L1 for <paramref name="rows"/> input rows of
    /// <paramref name="bfloat16"/> (else float32) weights; 0: none.</summary>
    internal static int PrefetchFor(bool bfloat16, long rows) =>
        CpuFeatures.IsAmdZen4 && (!bfloat16 || rows == 1 || L2PrefetchFor(rows) > 0) ? 0 : Prefetch;

    // How far ahead of the sums (bytes of the weight) L2PrefetchFor fetches into L2.
    private const int L2Distance = 8192;

    /// <summary>How many bytes ahead of the weight row being summed the kernel prefetches into L2 (prefetcht1) for
    /// <paramref name="rows"/> input rows; 0: none. By default on Zen 4, for two rows or more. There the
    /// sums of several rows overlap badly with their reads from DRAM: a step's float32 linears (24 × 3072×768 and 24 ×
    /// 768×3072, 0.45 GB) streamed at ~30 GB/s for one row but ~18 GB/s for three, and oneDNN's packed weights did no
    /// better (kernel and packed within 10% per shape, three rows), while from L3 three rows ran at ~79 GB/s. Measured on
    /// machine 3 (docs/BENCHMARKS.md, optimisation 38), interleaved rounds in one process, medians: those linears with three
    /// rows 24.9 → 20.4–22.2 ms (4,096 and 2,048 bytes ahead), 24.5 → 19.5 ms (8,192; 16,384 no better), two rows 22.3 →
    /// 13.9 ms, eight 43.9 → 28.7 ms; prefetcht0 at 256–4,096 bytes no faster; one row 17.7 → 16.6 ms alone but a greedy
    /// caption's decoding slower with it (422 → 469, 532 → 556 ms), so one row takes none. 20-token decodings: float32 3
    /// beams 657 → 615 and 666 → 623–637 ms, 2 beams 627 → 578, 4 beams 641 → 611, 2 images 668 → 570, 4 images 1,073
    /// → 966; bfloat16 (instead of the two rows ahead into L1) 2 beams 489 → 418 and 457 → 386–400 ms. Zen 5 and Intel
    /// were not measured. Tests force it (<see cref="L2PrefetchOverride"/>); it changes no result.</summary>
    internal static int L2PrefetchFor(long rows) => (L2PrefetchOverride ?? (CpuFeatures.IsAmdZen4 && rows > 1)) ? L2Distance : 0;

    /// <summary>True prefetches into L2 on any CPU, false never; null leaves it to <see cref="L2PrefetchFor"/>'s rule.
    /// Either way only the sums of two rows or more prefetch (the one-row sum has none). Read from BLIP_L2_PREFETCH (1,
    /// 0, or unset/auto) for a process, for before/after measurements; tests set it.</summary>
    internal static bool? L2PrefetchOverride { get; set; } = ParseOverride(Environment.GetEnvironmentVariable("BLIP_L2_PREFETCH"), "BLIP_L2_PREFETCH");

    // The cache lines of [p, p + bytes) into L2. A prefetch never faults, so running past the end of a weight is harmless.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchL2(nint p, int bytes)
    {
        for (int i = 0; i < bytes; i += 64) Sse.Prefetch1((void*)(p + i));
    }

    /// <summary>Whether the sums for <paramref name="rows"/> input rows run in 512-bit vectors: half the instructions per
    /// weight byte, which counts where the widening of bfloat16 and several input rows make the kernel more than a
    /// stream of loads. By default on AMD CPUs where the JIT accelerates Vector512: from Zen 5 on (full-width 512-bit
    /// units) for any row count, on Zen 4 (512-bit work split in two halves) for two rows or more. Measured on machine 4
    /// (Zen 5) in one process, 20 interleaved rounds, a decoding step's 97 linears (0.49 GB float32, 0.25 GB bfloat16,
    /// from DRAM): bfloat16 3 rows 14.1 → 12.5 ms, 1 row 9.9 → 8.7 ms; float32 3 rows 16.3 → 15.7 ms, 1 row 12.9 →
    /// 12.6 ms; LM-head-sized weights (30524×768) bfloat16 3 rows 36 → 43 GB/s. On machine 3 (Zen 4), the decoding of a
    /// 20-token caption (19 steps, medians of 12–16 interleaved rounds in one process): bfloat16 3 beams 480 → 452 ms,
    /// float32 3 beams 738 → 717 ms (657 with CrossStepAttention's 512-bit kernel against SDPA's 738), while one row is
    /// slower in 512 bits (bfloat16 265 → 291 ms, float32 485 → 496). Intel was not measured. Tests force either width
    /// (<see cref="WideOverride"/>) to check both on a CPU that has AVX-512.</summary>
    internal static bool WideFor(long rows) => WideOverride is { } forced
        ? forced && WideSupported
        : WideSupported && CpuFeatures.IsAmd && (CpuFeatures.IsAmdZen5OrLater || rows > 1);

    /// <summary>Tests: true forces the 512-bit sums (where <see cref="WideSupported"/>), false the 256-bit ones; null
    /// (the default) leaves the choice to <see cref="WideFor"/>'s rule.</summary>
    internal static bool? WideOverride { get; set; }

    /// <summary>Whether this CPU and JIT can run the 512-bit sums at all (AVX-512, Vector512 accelerated).</summary>
    internal static bool WideSupported => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchRow(nint p, long bytes)
    {
        for (long i = 0; i < bytes; i += 64) Sse.Prefetch0((void*)(p + (nint)i));
    }

    /// <summary>What is applied to each output after its bias.</summary>
    private enum Epilogue
    {
        None,
        Gelu,
    }

    // X is always float32 (bfloat16 inputs are widened first); W, B and Y hold the element type T.
    private readonly record struct KernelArgs(nint X, nint W, nint B, nint Y, long Rows, long Out, long In, Epilogue Epilogue);

    // Output features [first, last) for every input row; each weight row is read from memory once, and from L1 once
    // per block of up to 4 input rows (a block of 2 or 3 repeats its last row and drops the extra sums).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Rows<T>(KernelArgs a, long first, long last) where T : struct, IKernelElement
    {
        float* x = (float*)a.X;
        bool wide = WideFor(a.Rows);
        int ahead = PrefetchFor(typeof(T) == typeof(BFloat16Element), a.Rows);   // a JIT-time constant per T
        int distance = L2PrefetchFor(a.Rows);
        for (long o = first; o < last; o++)
        {
            nint wr = a.W + (nint)(o * a.In * T.Size);
            if (ahead > 0 && o + ahead < last) PrefetchRow(a.W + (nint)((o + ahead) * a.In * T.Size), a.In * T.Size);
            float bo = a.B == 0 ? 0f : T.Load1(a.B, o);
            long r = 0;
            for (; a.Rows - r >= 2; r += 4)
            {
                long n = Math.Min(4, a.Rows - r);
                float* x0 = x + (r * a.In);
                DotBlock<T>(wide, wr, x0, x0 + a.In, x0 + (Math.Min(2, n - 1) * a.In), x0 + ((n - 1) * a.In), a.In, n, distance,
                    out var d0, out var d1, out var d2, out var d3);
                T.Store(a.Y, (r * a.Out) + o, d0 + bo);
                T.Store(a.Y, ((r + 1) * a.Out) + o, d1 + bo);
                if (n > 2) T.Store(a.Y, ((r + 2) * a.Out) + o, d2 + bo);
                if (n > 3) T.Store(a.Y, ((r + 3) * a.Out) + o, d3 + bo);
            }

            if (r < a.Rows) T.Store(a.Y, (r * a.Out) + o, Dot<T>(wide, wr, x + (r * a.In), a.In) + bo);
        }

        if (a.Epilogue == Epilogue.Gelu) GeluInPlace<T>(a, first, last);
    }

    // gelu over outputs [first, last) of every row, read back as stored (bfloat16: rounded once), the values libtorch's
    // gelu would read from the linear's output.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GeluInPlace<T>(KernelArgs a, long first, long last) where T : struct, IKernelElement
    {
        for (long r = 0; r < a.Rows; r++)
        {
            long o = first, row = r * a.Out;
            for (; o + 8 <= last; o += 8) T.Store8(a.Y, row + o, GeluMath.Exact(T.Load8(a.Y, row + o)));
            for (; o < last; o++) T.Store(a.Y, row + o, GeluMath.Exact(Vector256.Create(T.Load1(a.Y, row + o))).ToScalar());
        }
    }

    // One weight row against a block of 2–4 input rows (x2 and x3 repeat the last row where there are fewer): each
    // weight vector is loaded once and used for every row, with two accumulators per row so that eight FMA chains are
    // in flight. Before this, rows beyond the first were each a full Dot (the weight row re-read from L1 and summed
    // horizontally per row): a step of 8 rows took 102–114 ms against 56–74 ms for one row. Three rows (beam 3) skip
    // the repeated fourth: in 512 bits a step's bf16 linears with 3 rows 12.9 → 11.4 and 13.2 → 12.0 ms on machine 4
    // (40 interleaved rounds, twice), float32 unchanged within noise. `wide`: 512-bit vectors (see WideFor). `distance`:
    // bytes ahead of w prefetched into L2 as the sums go (L2PrefetchFor; 0: none).
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void DotBlock<T>(bool wide, nint w, float* x0, float* x1, float* x2, float* x3, long n, long rows, int distance,
        out float d0, out float d1, out float d2, out float d3) where T : struct, IKernelElement
    {
        if (wide && rows == 3)
            Dot4<T, Width512<T>, Vector512<float>, ThreeRows>(w, x0, x1, x2, x3, n, distance, out d0, out d1, out d2, out d3);
        else if (wide)
            Dot4<T, Width512<T>, Vector512<float>, FourRows>(w, x0, x1, x2, x3, n, distance, out d0, out d1, out d2, out d3);
        else if (rows == 3)
            Dot4<T, Width256<T>, Vector256<float>, ThreeRows>(w, x0, x1, x2, x3, n, distance, out d0, out d1, out d2, out d3);
        else
            Dot4<T, Width256<T>, Vector256<float>, FourRows>(w, x0, x1, x2, x3, n, distance, out d0, out d1, out d2, out d3);
    }

    /// <summary>One weight row against one input row; <paramref name="wide"/>: in 512-bit vectors (see WideFor).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static unsafe float Dot<T>(bool wide, nint w, float* x, long n) where T : struct, IKernelElement =>
        wide ? Dot<T, Width512<T>, Vector512<float>>(w, x, n) : Dot<T, Width256<T>, Vector256<float>>(w, x, n);

    // Whether a block's fourth input row is summed (a type argument, so the JIT compiles each case without the test).
    private interface IRowBlock
    {
        static abstract bool Fourth { get; }
    }

    private readonly struct FourRows : IRowBlock
    {
        public static bool Fourth => true;
    }

    private readonly struct ThreeRows : IRowBlock
    {
        public static bool Fourth => false;
    }

    // With ThreeRows, d3 is 0 and x3 is not read.
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot4<T, TWidth, TVector, TRows>(nint w, float* x0, float* x1, float* x2, float* x3, long n, int distance,
        out float d0, out float d1, out float d2, out float d3)
        where T : struct, IKernelElement where TWidth : struct, IVectorWidth<TVector> where TVector : struct where TRows : struct, IRowBlock
    {
        TVector a0 = TWidth.Zero, a1 = TWidth.Zero, a2 = TWidth.Zero, a3 = TWidth.Zero;
        TVector b0 = TWidth.Zero, b1 = TWidth.Zero, b2 = TWidth.Zero, b3 = TWidth.Zero;
        int lanes = TWidth.Lanes;
        long k = 0;
        for (; k + (2 * lanes) <= n; k += 2 * lanes)
        {
            if (distance > 0) PrefetchL2(w + (nint)(k * T.Size) + distance, 2 * lanes * T.Size);  // the line(s) these sums read, 8 KB on
            var wa = TWidth.LoadWeights(w, k);
            var wb = TWidth.LoadWeights(w, k + lanes);
            a0 = TWidth.MultiplyAdd(wa, TWidth.Load(x0 + k), a0);
            a1 = TWidth.MultiplyAdd(wa, TWidth.Load(x1 + k), a1);
            a2 = TWidth.MultiplyAdd(wa, TWidth.Load(x2 + k), a2);
            if (TRows.Fourth) a3 = TWidth.MultiplyAdd(wa, TWidth.Load(x3 + k), a3);
            b0 = TWidth.MultiplyAdd(wb, TWidth.Load(x0 + k + lanes), b0);
            b1 = TWidth.MultiplyAdd(wb, TWidth.Load(x1 + k + lanes), b1);
            b2 = TWidth.MultiplyAdd(wb, TWidth.Load(x2 + k + lanes), b2);
            if (TRows.Fourth) b3 = TWidth.MultiplyAdd(wb, TWidth.Load(x3 + k + lanes), b3);
        }

        for (; k + lanes <= n; k += lanes)
        {
            var wa = TWidth.LoadWeights(w, k);
            a0 = TWidth.MultiplyAdd(wa, TWidth.Load(x0 + k), a0);
            a1 = TWidth.MultiplyAdd(wa, TWidth.Load(x1 + k), a1);
            a2 = TWidth.MultiplyAdd(wa, TWidth.Load(x2 + k), a2);
            if (TRows.Fourth) a3 = TWidth.MultiplyAdd(wa, TWidth.Load(x3 + k), a3);
        }

        (d0, d1, d2) = (TWidth.Sum(TWidth.Add(a0, b0)), TWidth.Sum(TWidth.Add(a1, b1)), TWidth.Sum(TWidth.Add(a2, b2)));
        d3 = TRows.Fourth ? TWidth.Sum(TWidth.Add(a3, b3)) : 0f;
        for (; k < n; k++)
        {
            float wk = T.Load1(w, k);
            d0 += wk * x0[k];
            d1 += wk * x1[k];
            d2 += wk * x2[k];
            if (TRows.Fourth) d3 += wk * x3[k];
        }
    }

    // Four independent accumulators keep the FMA units busy while the weight streams in from memory.
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    private static unsafe float Dot<T, TWidth, TVector>(nint w, float* x, long n)
        where T : struct, IKernelElement where TWidth : struct, IVectorWidth<TVector> where TVector : struct
    {
        TVector s0 = TWidth.Zero, s1 = TWidth.Zero, s2 = TWidth.Zero, s3 = TWidth.Zero;
        int lanes = TWidth.Lanes;
        long k = 0;
        for (; k + (4 * lanes) <= n; k += 4 * lanes)
        {
            s0 = TWidth.MultiplyAdd(TWidth.LoadWeights(w, k), TWidth.Load(x + k), s0);
            s1 = TWidth.MultiplyAdd(TWidth.LoadWeights(w, k + lanes), TWidth.Load(x + k + lanes), s1);
            s2 = TWidth.MultiplyAdd(TWidth.LoadWeights(w, k + (2 * lanes)), TWidth.Load(x + k + (2 * lanes)), s2);
            s3 = TWidth.MultiplyAdd(TWidth.LoadWeights(w, k + (3 * lanes)), TWidth.Load(x + k + (3 * lanes)), s3);
        }

        for (; k + lanes <= n; k += lanes)
        {
            s0 = TWidth.MultiplyAdd(TWidth.LoadWeights(w, k), TWidth.Load(x + k), s0);
        }

        float sum = TWidth.Sum(TWidth.Add(TWidth.Add(s0, s1), TWidth.Add(s2, s3)));
        for (; k < n; k++)
        {
            sum += T.Load1(w, k) * x[k];
        }

        return sum;
    }
}
