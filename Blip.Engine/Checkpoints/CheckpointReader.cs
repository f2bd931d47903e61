// A model's weights as one set of names: a single safetensors file or the shards of an index.
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>
/// The tensors of a checkpoint: <c>model.safetensors</c>, or the shards listed by
/// <c>model.safetensors.index.json</c>, each shard mapped once.
/// </summary>
/// <remarks>
/// Follows transformers' lookup order: <c>model.safetensors</c> first, then the sharded index. Pickled
/// (<c>pytorch_model.bin</c>), TensorFlow and Flax checkpoints are refused: convert them with transformers'
/// <c>save_pretrained(..., safe_serialization=True)</c>.
/// </remarks>
public sealed class CheckpointReader : IDisposable
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The index of a sharded checkpoint.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private static readonly string[] UnsupportedNames =
        ["pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "tf_model.h5.index.json", "flax_model.msgpack", "flax_model.msgpack.index.json"];

    private readonly IReadOnlyList<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byName;

    private CheckpointReader(string path, IReadOnlyList<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> byName, IReadOnlyList<string> names)
    {
        Path = path;
        _files = files;
        _byName = byName;
        Names = names;
    }

    /// <summary>The file or folder the checkpoint was opened from.</summary>
    public string Path { get; }

    /// <summary>Every tensor name, in file (or index) order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The safetensors files (one, or the shards in index order).</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <summary>Opens one safetensors file.</summary>
    public static CheckpointReader OpenFile(string path)
    {
        var file = SafeTensorsFile.Open(path);
        return new CheckpointReader(path, [file], file.Tensors.Keys.ToDictionary(k => k, _ => file, StringComparer.Ordinal), [.. file.Tensors.Keys]);
    }

    /// <summary>Opens the checkpoint of a model folder (single file or sharded).</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="CheckpointFormatException">No safetensors checkpoint, only another format, or an inconsistent index.</exception>
    public static CheckpointReader OpenFolder(string dir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException($"{dir}: no such folder (expected a model folder holding {SingleFileName}).");
        string single = System.IO.Path.Combine(dir, SingleFileName);
        if (File.Exists(single))
            return OpenFile(single);
        string index = System.IO.Path.Combine(dir, IndexFileName);
        if (File.Exists(index))
            return OpenSharded(index);
        throw NoCheckpoint(dir);
    }

    /// <summary>The header entry of <paramref name="name"/> (offsets relative to its shard).</summary>
    public SafeTensorInfo Info(string name) => FileOf(name).Info(name);

    /// <summary>Loads a tensor; see <see cref="SafeTensorsFile.Load"/>.</summary>
    public torch.Tensor Load(string name, torch.ScalarType? dtype = null, torch.Device? device = null) => FileOf(name).Load(name, dtype, device);

    /// <summary>Copies a tensor into <paramref name="destination"/> in place; see <see cref="SafeTensorsFile.CopyInto"/>.</summary>
    public void CopyInto(string name, torch.Tensor destination) => FileOf(name).CopyInto(name, destination);

    /// <summary>Drops a copied-out tensor's file pages from the resident set; see <see cref="SafeTensorsFile.ReleasePages"/>.</summary>
    public void ReleasePages(string name) => FileOf(name).ReleasePages(name);

    /// <summary>True when the checkpoint holds <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The file holding <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointFormatException">No tensor of that name.</exception>
    public SafeTensorsFile FileOf(string name) =>
        _byName.TryGetValue(name, out var file) ? file
            : throw new CheckpointFormatException(Path, name, $"no tensor of that name in the checkpoint ({Names.Count} tensors)");

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var f in _files)
            f.Dispose();
    }

    private static CheckpointFormatException NoCheckpoint(string dir)
    {
        var present = UnsupportedNames.Where(n => File.Exists(System.IO.Path.Combine(dir, n))).ToList();
        if (present.Count > 0)
            return new CheckpointFormatException(dir, null,
                $"the folder holds only {string.Join(", ", present)}, not {SingleFileName}. Blip.Engine reads safetensors only and never unpickles; " +
                "convert with transformers: Model.from_pretrained(folder).save_pretrained(out_folder, safe_serialization=True)");
        return new CheckpointFormatException(dir, null,
            $"no checkpoint found: looked for {SingleFileName} and {IndexFileName} (and for {string.Join(", ", UnsupportedNames)})");
    }

    private static CheckpointReader OpenSharded(string indexPath)
    {
        var map = ShardIndex.ReadWeightMap(indexPath);
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var shards = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            var byName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var (key, shardName) in map)
                byName[key] = OpenShardOnce(indexPath, dir, key, shardName, shards);
            CheckShardsMatchIndex(indexPath, map, shards);
            return new CheckpointReader(indexPath, [.. shards.Values], byName, [.. map.Select(m => m.Key)]);
        }
        catch
        {
            foreach (var s in shards.Values)
                s.Dispose();
            throw;
        }
    }

    private static SafeTensorsFile OpenShardOnce(string indexPath, string dir, string key, string shardName, Dictionary<string, SafeTensorsFile> shards)
    {
        if (shards.TryGetValue(shardName, out var open))
            return open;
        string shardPath = System.IO.Path.Combine(dir, HubCache.LocalPath(shardName));
        if (!File.Exists(shardPath))
            throw new CheckpointFormatException(indexPath, key, $"weight_map names the shard {shardName}, which is not in {dir}");
        var file = SafeTensorsFile.Open(shardPath);
        shards.Add(shardName, file);
        return file;
    }

    private static void CheckShardsMatchIndex(string indexPath, IReadOnlyList<KeyValuePair<string, string>> map, Dictionary<string, SafeTensorsFile> shards)
    {
        foreach (var (key, shardName) in map)
        {
            if (!shards[shardName].Tensors.ContainsKey(key))
                throw new CheckpointFormatException(indexPath, key, $"weight_map puts the key in {shardName}, which does not hold it");
        }
        var mapped = map.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        foreach (var (shardName, file) in shards)
        {
            string? stray = file.Tensors.Keys.FirstOrDefault(k => !mapped.TryGetValue(k, out var s) || s != shardName);
            if (stray is not null)
                throw new CheckpointFormatException(indexPath, stray, $"the shard {shardName} holds the key but weight_map does not map it there");
        }
    }
}
