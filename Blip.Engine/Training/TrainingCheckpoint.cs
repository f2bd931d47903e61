// A resumable checkpoint: model weights, optimizer moments, the trainer's position and the RNG state, written to a
// temporary folder and swapped in by renames so that a crash never leaves a half-written checkpoint.
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
public sealed record TrainerState(int Step, int Epoch, int BatchInEpoch, long Seed);

/// <summary>Saves and restores resumable checkpoints (a folder: <c>model.safetensors</c>, <c>optimizer.bin</c>,
/// <c>rng.safetensors</c>, <c>trainer_state.json</c>).</summary>
public static class TrainingCheckpoint
{
    private const string StateFile = "trainer_state.json";

    /// <summary>Writes the checkpoint into <paramref name="folder"/>, replacing the previous one atomically.</summary>
    public static void Save(string folder, nn.Module model, OptimizerHelper optimizer, TrainerState state)
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
        using (var rngState = Generator.Default.get_state())
            SafeTensorsWriter.Save(Path.Combine(tmp, "rng.safetensors"), [new("cpu", rngState)]);
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
    public static TrainerState Load(string folder, nn.Module model, OptimizerHelper optimizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        string dir = Resolve(folder) ?? throw new FileNotFoundException($"no training checkpoint in {folder}", Path.Combine(folder, StateFile));
        using (var reader = CheckpointReader.OpenFolder(dir)) PretrainedLoader.LoadWeights(model, reader);
        optimizer.load_state_dict(Path.Combine(dir, "optimizer.bin"));
        using (var rng = SafeTensorsFile.Open(Path.Combine(dir, "rng.safetensors")))
        using (var state = rng.Load("cpu"))
            Generator.Default.set_state(state);
        return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(dir, StateFile)))
            ?? throw new FormatException($"{Path.Combine(dir, StateFile)} holds null");
    }

    private static string? Resolve(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string full = Path.GetFullPath(folder);
        if (File.Exists(Path.Combine(full, StateFile))) return full;
        return File.Exists(Path.Combine(full + ".old", StateFile)) ? full + ".old" : null;
    }
}
