// A linear of many rows on a packed oneDNN weight (OneDnnPackedLinear) run as two row groups where one call would
// leave a thread idle. oneDNN's inner product hands its threads whole blocks of 32 rows, so a call takes as long as
// its busiest thread's share of ceil(R / 32) blocks: a ViT layer's 577 rows are 19 blocks, 10 for one of two threads
// against 9 for 576 rows, and 577 rows ran as slowly as 640. Measured on the 2-vCPU AMD EPYC Zen 5 of
// docs/BENCHMARKS.md (machine 6), packed weights, medians of 12 interleaved rounds: ViT-L's four linears 577 rows
// 15.16 ms (bfloat16) and 29.6 ms (float32) against 14.08 and 28.5 ms for 576 rows, while one row costs 0.04–0.34 ms
// (the weight read once more); with one thread 577 rows cost 577/576 of 576's. Each output row is the same sum
// either way (oneDNN reduces a row's products in the same order whatever the row count: the grouped outputs were
// bit-equal to one call's for 577, 1731, 65 and 97 rows, tails of 1, 3 and 7, both dtypes), so grouping changes
// only the time. In a whole ViT-L vision forward on machine 6 (one process, grouped and ungrouped alternating, quiet
// host): bfloat16 0.600 → 0.577 s (medians, faster in 28 of 30 rounds), float32 0.996 → 0.970 s (18 of 20); a greedy
// caption of 20 tokens 0.721 → 0.715 s (17 of 20) and 1.241 → 1.213 s (12 of 16). SpeedHarness --family
// rowgroup-pairs repeats it. Not a kernel: the arithmetic stays oneDNN's.
using Blip.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Runs a block of row-wise work on a linear's input as a group of whole 32-row blocks and a tail group,
/// where that spares oneDNN's packed inner product an idle thread.</summary>
internal static class PackedRowGroups
{
    /// <summary>Rows oneDNN's inner product hands a thread at a time (measured, see the header).</summary>
    internal const long RowBlock = 32;

    /// <summary>Most block rounds per thread that are split: the tail group's call reads the weight once more and the
    /// groups' outputs are joined by a copy, which outweighs one spared round of many (a batch pass of three images
    /// is 55 blocks, 28 rounds on two threads).</summary>
    internal const long MaxRounds = 16;

    /// <summary>Where rows are grouped: by default (Auto) on AMD Zen 5 or later, where it was measured (see the header);
    /// Always on any CPU whose linears run on packed weights. BLIP_ROW_GROUPS=0 (never) or =1 (always) sets it for a
    /// process.</summary>
    internal static SkinnyLinearPolicy Policy { get; set; } =
        SkinnyLinearPolicies.Parse(Environment.GetEnvironmentVariable("BLIP_ROW_GROUPS"), "BLIP_ROW_GROUPS");

    /// <summary>The rows of the first group, whole blocks, where the tail of <paramref name="rows"/> past them would
    /// cost <paramref name="threads"/> threads a round of their own (and there are at most <see cref="MaxRounds"/>);
    /// else <paramref name="rows"/>: one group.</summary>
    internal static long LeadRows(long rows, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        long whole = rows / RowBlock;
        if (threads < 2 || whole == 0 || whole * RowBlock == rows) return rows;
        long rounds = (whole + 1 + threads - 1) / threads;
        long roundsWithoutTail = (whole + threads - 1) / threads;
        return rounds > roundsWithoutTail && rounds <= MaxRounds ? whole * RowBlock : rows;
    }

    /// <summary>The rows of the first group for <paramref name="layer"/>'s linear of <paramref name="input"/> under
    /// <see cref="Policy"/> and libtorch's thread count: fewer than the input's rows only for a linear that
    /// OneDnnLinear runs on the weight's packed copy now; else all of them.</summary>
    internal static long LeadRows(Linear layer, Tensor input)
    {
        long rows = OneDnnLinear.InferenceRows(input, layer.weight!, layer.bias);
        bool applies = Policy switch
        {
            SkinnyLinearPolicy.Always => true,
            SkinnyLinearPolicy.Never => false,
            _ => CpuFeatures.IsAmdZen5OrLater,
        };
        if (!applies || layer.training || rows == 0 || !OneDnnLinear.Applies(input, layer.weight!, layer.bias)
            || !OneDnnPackedLinear.IsPacked(layer.weight!)) return rows;
        return LeadRows(rows, get_num_threads());
    }

    /// <summary><paramref name="block"/> (row-wise work that starts with <paramref name="layer"/>'s linear, through
    /// <see cref="GroupLinear"/>) over <paramref name="input"/>'s rows in the groups of <see cref="LeadRows(Linear, Tensor)"/>,
    /// <c>[..., I] → [..., O]</c>: the groups' outputs joined along the rows, or the block's own output for one group.</summary>
    public static Tensor Run(Linear layer, Tensor input, Func<Tensor, Tensor> block)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(block);
        long lead = LeadRows(layer, input);
        long[] shape = TensorMemory.Shape(input);
        long rows = input.numel() / Math.Max(1, shape[^1]);
        if (lead >= rows) return block(input);
        using var scope = NewDisposeScope();
        var flat = input.contiguous().view(rows, shape[^1]);                                        // [R,I]
        var output = cat([block(flat.narrow(0, 0, lead)), block(flat.narrow(0, lead, rows - lead))], 0);  // [R,O]
        shape[^1] = output.size(1);
        return output.view(shape).MoveToOuterDisposeScope();                                        // [..., O]
    }

    /// <summary><paramref name="layer"/>'s linear of one row group: <see cref="OneDnnLinear.Forward(Linear, Tensor)"/>,
    /// except that a group too small for OneDnnLinear's many-row route (a tail) still runs on the weight's packed copy
    /// where it has one (its unpacked pages may have been released, and a small product on the packed copy is what
    /// the split was measured with).</summary>
    public static Tensor GroupLinear(Linear layer, Tensor group)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(group);
        var weight = layer.weight!;
        if (!layer.training && OneDnnLinear.Policy != SkinnyLinearPolicy.Never && OneDnnLinear.TakesDType(weight.dtype)
            && !OneDnnLinear.Applies(group, weight, layer.bias) && OneDnnLinear.InferenceRows(group, weight, layer.bias) > 0
            && OneDnnPackedLinear.IsPacked(weight) && OneDnnPackedLinear.TryForward(group, weight, layer.bias) is { } packed)
            return packed;
        return OneDnnLinear.Forward(layer, group);
    }
}
