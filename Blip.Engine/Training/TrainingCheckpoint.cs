// A resumable checkpoint: model weights, optimizer moments, the trainer's position and the RNG state, written to a
// temporary folder and swapped in by renames so that a crash never leaves a half-written checkpoint.
using System.Runtime.InteropServices;
using System.Text.Json;
using Blip.Engine.Checkpoints;
using Blip.Engine.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Where a run stands: optimizer steps done, the epoch, and the micro-batches of that epoch consumed.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Epoch">The epoch in progress (0-based).</param>
/// <param name="BatchInEpoch">Micro-batches of <paramref name="Epoch"/> already trained on.</param>
/// <param name="Seed">The run's seed (data order derives from it and the epoch).</param>
/// <param name="BatchSize">Examples per micro-batch (<paramref name="BatchInEpoch"/> counts in them); 0 when not
/// recorded (a checkpoint of an earlier version).</param>
/// <param name="Examples">Examples in the training set (the epoch's order is a shuffle of them); 0 when not recorded.</param>
/// <param name="Data">A fingerprint of the training set (SHA-256 of its image paths, captions and image ids, in
/// order); null when not recorded.</param>
public sealed record TrainerState(int Step, int Epoch, int BatchInEpoch, long Seed, int BatchSize = 0, int Examples = 0, string? Data = null);

/// <summary>Saves and restores resumable checkpoints (a folder: <c>model.safetensors</c>, <c>optimizer.bin</c>,
/// <c>rng.safetensors</c>, <c>trainer_state.json</c>).</summary>
public static class TrainingCheckpoint
{
    private const string StateFile = "trainer_state.json";

    /// <summary>Writes the checkpoint into <paramref name="folder"/>, replacing the previous one atomically.</summary>
    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="model">Its weights go to <c>model.safetensors</c>.</param>
    /// <param name="optimizer">Its moments go to <c>optimizer.bin</c>.</param>
    /// <param name="state">The trainer's position.</param>
    /// <param name="extra">Trainable tensors outside the model (<c>extra.safetensors</c>), or null.</param>
    /// <param name="rngState">The CPU generator state to record (<c>Generator.Default.get_state()</c> as of
    /// <paramref name="state"/>'s position), or null for the state now.</param>
    /// <param name="generators">The states of the trainer's own generators as of <paramref name="state"/>'s position
    /// (e.g. the retrieval trainer's hard-negative draws), by name, kept beside the CPU one; or null.</param>
    public static void Save(string folder, nn.Module model, OptimizerHelper optimizer, TrainerState state,
        IReadOnlyList<KeyValuePair<string, Tensor>>? extra = null, Tensor? rngState = null,
        IReadOnlyList<KeyValuePair<string, Tensor>>? generators = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(state);
        string full = Path.GetFullPath(folder);
        string tmp = full + ".tmp", old = full + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        SafeTensorsWriter.Save(Path.Combine(tmp, "model.safetensors"), ModelParameters.StateDict(model));
        optimizer.save_state_dict(Path.Combine(tmp, "optimizer.bin"));
        if (extra is { Count: > 0 }) SafeTensorsWriter.Save(Path.Combine(tmp, "extra.safetensors"), extra.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach())));
        using (var now = rngState is null ? Generator.Default.get_state() : null)
            SafeTensorsWriter.Save(Path.Combine(tmp, "rng.safetensors"), [new(CpuGenerator, rngState ?? now!), .. generators ?? []]);
        File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state));
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(full)) Directory.Move(full, old);
        Directory.Move(tmp, full);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    /// <summary>True when <paramref name="folder"/> (or the previous copy a crash left behind) holds a checkpoint.</summary>
    public static bool Exists(string folder) => Resolve(folder) is not null;

    /// <summary>Restores model, optimizer and RNG from <paramref name="folder"/> and returns the trainer's state.</summary>
    /// <exception cref="FileNotFoundException">No checkpoint there.</exception>
    /// <param name="folder">The checkpoint folder.</param>
    /// <param name="model">Receives the weights.</param>
    /// <param name="optimizer">Receives the moments (built with the same parameter groups as when saved).</param>
    /// <param name="extra">Tensors to overwrite in place from <c>extra.safetensors</c>, by name, or null.</param>
    /// <param name="generators">The trainer's own generators to restore from <c>rng.safetensors</c>, by the names they
    /// were saved under, or null. One the file lacks (a checkpoint of an earlier version, which kept only the CPU
    /// generator) is left as it is, as that version resumed it.</param>
    public static TrainerState Load(string folder, nn.Module model, OptimizerHelper optimizer, IReadOnlyList<KeyValuePair<string, Tensor>>? extra = null,
        IReadOnlyList<KeyValuePair<string, Generator>>? generators = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        string dir = Resolve(folder) ?? throw new FileNotFoundException($"no training checkpoint in {folder}", Path.Combine(folder, StateFile));
        var state = ReadState(dir);
        using (var reader = CheckpointReader.OpenFolder(dir)) PretrainedLoader.LoadWeights(model, reader);
        LoadOptimizer(Path.Combine(dir, "optimizer.bin"), optimizer);
        if (extra is { Count: > 0 }) LoadExtra(Path.Combine(dir, "extra.safetensors"), extra);
        LoadRng(Path.Combine(dir, "rng.safetensors"), generators ?? []);
        return state;
    }

    /// <summary>The trainer's state saved in <paramref name="folder"/>, without loading anything else.</summary>
    /// <exception cref="FileNotFoundException">No checkpoint there.</exception>
    /// <exception cref="CheckpointFormatException">The state file is not a trainer state (the message names it).</exception>
    public static TrainerState ReadState(string folder)
    {
        string dir = Resolve(folder) ?? throw new FileNotFoundException($"no training checkpoint in {folder}", Path.Combine(folder, StateFile));
        string file = Path.Combine(dir, StateFile);
        TrainerState? state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(file), StateJson);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(file, null, $"not a trainer state: {e.Message}", e);
        }
        if (state is null) throw new CheckpointFormatException(file, null, "holds null, not a trainer state");
        NonNegative(file, nameof(state.Step), state.Step);
        NonNegative(file, nameof(state.Epoch), state.Epoch);
        NonNegative(file, nameof(state.BatchInEpoch), state.BatchInEpoch);
        return state;
    }

    private static readonly JsonSerializerOptions StateJson = new() { RespectRequiredConstructorParameters = true };

    private static void NonNegative(string file, string key, int value)
    {
        if (value < 0) throw new CheckpointFormatException(file, key, $"must be ≥ 0, got {value}");
    }

    private static void LoadOptimizer(string file, OptimizerHelper optimizer)
    {
        try
        {
            optimizer.load_state_dict(file);
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or InvalidCastException or ExternalException)
        {
            throw new CheckpointFormatException(file, null, $"cannot be read as this run's optimizer state: {e.Message}", e);
        }
    }

    private static void LoadExtra(string file, IReadOnlyList<KeyValuePair<string, Tensor>> extra)
    {
        using var saved = SafeTensorsFile.Open(file);
        using var noGrad = no_grad();
        foreach (var (name, target) in extra)
        {
            using var value = saved.Load(name);
            if (!value.shape.SequenceEqual(target.shape))
                throw new CheckpointFormatException(file, name, $"shape [{string.Join(",", value.shape)}], expected [{string.Join(",", target.shape)}]");
            target.copy_(value);
        }
    }

    /// <summary>Restores the CPU generator and <paramref name="generators"/>; each state is checked first, as libtorch
    /// aborts the process on a wrong one.</summary>
    private static void LoadRng(string file, IReadOnlyList<KeyValuePair<string, Generator>> generators)
    {
        using var rng = SafeTensorsFile.Open(file);
        foreach (var (name, generator) in generators)
            if (rng.Tensors.ContainsKey(name)) Restore(file, rng, name, generator);
        Restore(file, rng, CpuGenerator, Generator.Default);
    }

    private static void Restore(string file, SafeTensorsFile rng, string name, Generator generator)
    {
        using var state = rng.Load(name);
        using var current = generator.get_state();
        if (state.dtype != ScalarType.Byte || !state.shape.SequenceEqual(current.shape))
            throw new CheckpointFormatException(file, name, $"expected libtorch's CPU generator state, a uint8 tensor [{current.shape[0]}], got {state.dtype} [{string.Join(",", state.shape)}]");
        generator.set_state(state);
    }

    private const string CpuGenerator = "cpu";

    private static string? Resolve(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string full = Path.GetFullPath(folder);
        if (File.Exists(Path.Combine(full, StateFile))) return full;
        return File.Exists(Path.Combine(full + ".old", StateFile)) ? full + ".old" : null;
    }
}
