// Which weight files a BLIP model folder has: model.safetensors, or model.safetensors.index.json and its shards.
using System.Text.RegularExpressions;

namespace Blip.Engine.Checkpoints;

/// <summary>Names and checks of the safetensors weight files in a snapshot.</summary>
internal static partial class HubWeightFiles
{
    public const string Single = "model.safetensors";
    public const string Index = "model.safetensors.index.json";

    /// <summary>The distinct shard files of an index's <c>weight_map</c> ('/'-separated paths), in first-seen order.</summary>
    /// <exception cref="CheckpointFormatException">The index is malformed; names the file and key.</exception>
    public static IReadOnlyList<string> ReadShardNames(string indexPath) =>
        ShardIndex.ReadWeightMap(indexPath).Select(kv => kv.Value).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Whether the snapshot holds the single weights file, or an index and all its shards, by <c>exists</c>
    /// (see <c>HubModelResolver.CompleteSnapshot</c>).</summary>
    public static bool HasWeights(string snapshotFolder, string repoFolder, string commit, Func<string, bool> exists)
    {
        if (exists(Path.Combine(snapshotFolder, Single)))
            return true;
        string index = Path.Combine(snapshotFolder, Index);
        if (!exists(index))
        {
            foreach (string name in HubModelResolver.UnsupportedWeightFiles)
            {
                if (exists(Path.Combine(snapshotFolder, name)))
                    throw Unsupported(Path.GetFileName(repoFolder), commit, name);
            }
            return false;
        }
        return ReadShardNames(index).All(s => exists(Path.Combine(snapshotFolder, HubCache.LocalPath(s))));
    }

    public static HubException Unsupported(string repo, string commit, string fileName) =>
        new(HubErrorKind.UnsupportedWeights,
            $"'{repo}' (commit {commit}) has only {fileName} weights (PyTorch pickle), which Blip.Engine does not read: it needs " +
            $"{Single}. Convert them (transformers: save_pretrained(..., safe_serialization=True)) or use a revision with {Single}.");

    /// <summary>An etag becomes a file name in blobs/: allow only hex digits and the characters of git/LFS ids.</summary>
    public static bool IsSafeEtag(string etag) => EtagPattern().IsMatch(etag);

    [GeneratedRegex(@"^[A-Za-z0-9_\-]{1,128}\z")]
    private static partial Regex EtagPattern();
}
