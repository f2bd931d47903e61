// A short greedy caption loop (no KV cache) for evaluation during training; the Generation namespace has the full one.
using Blip.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Greedy unconditional captioning as transformers' <c>generate(pixel_values, num_beams=1)</c>: start from
/// <c>[bos]</c>, append the argmax until <c>[SEP]</c> or <c>maxLength</c> ids (bos included).</summary>
public static class GreedyCaptioner
{
    /// <summary>The generated ids of each image, bos first, ending with <c>[SEP]</c> when it was produced.</summary>
    public static IReadOnlyList<long[]> Generate(BlipForConditionalGeneration model, Tensor pixelValues, int maxLength = 20)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pixelValues);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        var text = model.Config.TextConfig;
        long bos = text.BosTokenId ?? throw new InvalidOperationException("text_config.bos_token_id is null");
        long sep = text.SepTokenId ?? throw new InvalidOperationException("text_config.sep_token_id is null");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var vision = model.VisionModel.forward(pixelValues);
        long batch = pixelValues.shape[0];
        var rows = Enumerable.Range(0, (int)batch).Select(_ => new List<long> { bos }).ToList();
        var done = new bool[batch];
        for (int t = 1; t < maxLength && done.Contains(false); t++)
        {
            using var step = NewDisposeScope();
            var ids = tensor(rows.SelectMany(r => r).ToArray()).reshape(batch, t);                            // [B,t]
            // Not lastOnly: BlipTextLMHeadModel's lastOnly slice (-1..) throws in C#; the tiny loop can afford full logits.
            var logits = model.TextDecoder.Forward(ids, null, vision.LastHiddenState);                         // [B,t,V]
            var next = logits[.., -1, ..].argmax(-1).data<long>().ToArray();                                   // [B]
            for (int b = 0; b < batch; b++)
            {
                rows[b].Add(done[b] ? text.PadTokenId ?? 0 : next[b]);
                done[b] |= next[b] == sep;
            }
        }
        return rows.Select(r => Trim(r, sep)).ToList();
    }

    private static long[] Trim(List<long> row, long sep)
    {
        int end = row.IndexOf(sep);
        return (end < 0 ? row : row.Take(end + 1)).ToArray();
    }
}
