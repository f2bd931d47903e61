// The decoder's start ids for captioning, as transformers' BlipForConditionalGeneration.generate builds them.
using Blip.Engine.Config;
using Blip.Engine.Generation;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>Start ids, mask and positions of the caption decoder for a batch of images and optional prompts.</summary>
internal static class CaptionerPrompt
{
    /// <summary>Unconditional: [bos] per image. With prompts (the processor's <c>[CLS] prompt [SEP]</c>, right-padded):
    /// see <see cref="PromptPadding"/>.</summary>
    public static (Tensor Ids, Tensor? Mask, Tensor? Positions) Build(Tensor? promptIds, Tensor? promptMask, long images,
        long bos, long pad, PromptPadding padding)
    {
        if (promptIds is null)
        {
            if (promptMask is not null) throw new ArgumentException("a prompt mask needs prompt ids", nameof(promptMask));
            return (full(images, 1, bos, dtype: ScalarType.Int64), null, null);
        }
        if (promptIds.dim() != 2 || promptIds.shape[0] != images || promptIds.shape[1] < 2)
            throw new ArgumentException($"prompt ids must be [{images},T] with T ≥ 2 ([CLS] … [SEP]), got [{string.Join(",", promptIds.shape)}]", nameof(promptIds));
        if (promptMask is not null && !promptMask.shape.SequenceEqual(promptIds.shape))
            throw new ArgumentException($"prompt mask [{string.Join(",", promptMask.shape)}] must match prompt ids [{string.Join(",", promptIds.shape)}]", nameof(promptMask));
        return padding == PromptPadding.PerSequence
            ? PerSequence(promptIds, promptMask, bos, pad)
            : AsTransformers(promptIds, promptMask, bos);
    }

    /// <summary>transformers: column 0 := bos, then the last column of ids and mask dropped.</summary>
    private static (Tensor, Tensor?, Tensor?) AsTransformers(Tensor promptIds, Tensor? promptMask, long bos)
    {
        var ids = promptIds.to(ScalarType.Int64).clone();
        ids[.., 0] = tensor(bos);
        long t = ids.shape[1] - 1;
        return (ids.narrow(1, 0, t), promptMask?.to(ScalarType.Int64).narrow(1, 0, t), null);
    }

    /// <summary>Each row's real tokens (mask 1, wherever the padding is: right as the processor pads, or left) without
    /// the last one ([SEP]), bos first, left-padded; positions count real tokens.</summary>
    private static (Tensor, Tensor?, Tensor?) PerSequence(Tensor promptIds, Tensor? promptMask, long bos, long pad)
    {
        using var cpuIds = promptIds.to(ScalarType.Int64).to(CPU).contiguous();
        using var cpuMask = (promptMask ?? ones_like(promptIds)).to(ScalarType.Int64).to(CPU).contiguous();
        long rows = cpuIds.shape[0], t = cpuIds.shape[1];
        long[] ids = cpuIds.data<long>().ToArray(), mask = cpuMask.data<long>().ToArray();
        var kept = new long[rows][];
        for (long r = 0; r < rows; r++)
        {
            var real = new List<long>();
            for (long i = 0; i < t; i++)
                if (mask[r * t + i] != 0) real.Add(ids[r * t + i]);
            if (real.Count < 2) throw new ArgumentException($"prompt row {r} has fewer than 2 tokens ([CLS] … [SEP])", nameof(promptIds));
            kept[r] = real.GetRange(0, real.Count - 1).ToArray();
            kept[r][0] = bos;
        }
        long width = kept.Max(k => k.Length);
        var outIds = new long[rows * width];
        var outMask = new long[rows * width];
        var outPositions = new long[rows * width];
        for (long r = 0; r < rows; r++)
        {
            long offset = width - kept[r].Length;
            for (long i = 0; i < width; i++)
            {
                bool real = i >= offset;
                outIds[r * width + i] = real ? kept[r][i - offset] : pad;
                outMask[r * width + i] = real ? 1 : 0;
                outPositions[r * width + i] = real ? i - offset : 0;
            }
        }
        var device = promptIds.device;
        return (tensor(outIds, [rows, width]).to(device), tensor(outMask, [rows, width]).to(device), tensor(outPositions, [rows, width]).to(device));
    }
}
