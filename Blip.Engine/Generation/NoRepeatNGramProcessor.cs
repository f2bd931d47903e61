// transformers' NoRepeatNGramLogitsProcessor: forbid the tokens that would repeat an n-gram already in the sequence.
using static TorchSharp.torch;

namespace Blip.Engine.Generation;

/// <summary>Bans (score −∞) every token that would complete an n-gram of size <c>n</c> already present in the row
/// (prompt included, as transformers does for decoder-only models).</summary>
internal sealed class NoRepeatNGramProcessor(int n) : ILogitsProcessor
{
    public Tensor Process(Tensor ids, Tensor scores)
    {
        int rows = (int)ids.shape[0], length = (int)ids.shape[1];
        var processed = scores.clone();
        if (length + 1 < n) return processed;
        using var cpu = ids.to(CPU).contiguous();
        long[] all = cpu.data<long>().ToArray();
        for (int r = 0; r < rows; r++)
        {
            var banned = Banned(new ArraySegment<long>(all, r * length, length));
            if (banned.Count > 0) processed[r].index_fill_(0, tensor(banned.ToArray(), device: scores.device), double.NegativeInfinity);
        }
        return processed;
    }

    /// <summary>The tokens that followed earlier occurrences of the row's last n−1 tokens.</summary>
    private List<long> Banned(ArraySegment<long> row)
    {
        var banned = new List<long>();
        int length = row.Count, start = length + 1 - n;
        for (int i = 0; i + n <= length; i++)
        {
            bool same = true;
            for (int j = 0; j < n - 1 && same; j++) same = row[i + j] == row[start + j];
            if (same) banned.Add(row[i + n - 1]);
        }
        return banned;
    }
}
