// Loads a checkpoint into a module's existing tensors, after checking every key and shape.
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>
/// Copies a checkpoint into a module's parameters and buffers in place, so their identity (and any tying)
/// survives. Replaces TorchSharp's <c>load_state_dict</c>, whose strict error names no key and which
/// broadcasts mis-shaped tensors silently.
/// </summary>
/// <remarks>
/// Keys that are the same tensor in the module (tied weights, found by object or by memory address) are one slot: when the file
/// has any of them, the first of them in <c>state_dict()</c> order that the file holds (with the right shape) is
/// loaded, the others are skipped unread (their shapes are still checked), and none is reported missing.
/// </remarks>
public static class StateDictLoader
{
    /// <summary>
    /// Compares <paramref name="module"/>'s <c>state_dict()</c> (parameters and buffers) with
    /// <paramref name="source"/>, then copies every tensor that fits into the module under <c>no_grad</c>.
    /// </summary>
    /// <returns>What was loaded, and every missing, unexpected or mismatched key (empty lists when strict).</returns>
    /// <exception cref="StateDictMismatchException">Strict, and a key is missing, unexpected or mis-shaped; nothing is copied.</exception>
    public static StateDictLoadReport Load(torch.nn.Module module, CheckpointReader source, StateDictLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(source);
        options ??= new StateDictLoadOptions();
        var state = module.state_dict();
        var plan = new Plan();
        foreach (var slot in Slots(state))
            PlanSlot(plan, slot, source, options);
        foreach (string name in source.Names.Where(n => !state.ContainsKey(n)))
            (options.MayBeExtraInFile(name) ? plan.Skipped : plan.Unexpected).Add(name);
        var report = new StateDictLoadReport(plan.Copies.Select(c => c.FileKey).ToList(), plan.Missing, plan.Unexpected, plan.Mismatched, plan.Skipped);
        if (options.Strict && !report.IsClean)
            throw new StateDictMismatchException(source.Path, report);
        using (torch.no_grad())
        {
            foreach (var (fileKey, target) in plan.Copies)
            {
                source.CopyInto(fileKey, target);
                source.ReleasePages(fileKey);  // else the file's bytes stay resident beside their copies until it is closed
            }
        }
        return report;
    }

    private sealed class Plan
    {
        public List<(string FileKey, torch.Tensor Target)> Copies { get; } = [];
        public List<string> Missing { get; } = [];
        public List<string> Unexpected { get; } = [];
        public List<StateDictMismatch> Mismatched { get; } = [];
        public List<string> Skipped { get; } = [];
    }

    private sealed record Slot(torch.Tensor Tensor, List<string> Keys);

    private static void PlanSlot(Plan plan, Slot slot, CheckpointReader source, StateDictLoadOptions options)
    {
        var inFile = slot.Keys.Where(source.Contains).ToList();
        if (inFile.Count == 0)
        {
            plan.Missing.AddRange(slot.Keys.Where(k => !options.MayBeAbsentFromFile(k)));
            return;
        }
        string? chosen = null;
        foreach (string key in inFile)
        {
            var problem = Mismatch(key, source.Info(key), slot.Tensor, options.DType);
            if (problem is not null)
                plan.Mismatched.Add(problem);
            else if (chosen is null)
                chosen = key;
            else
                plan.Skipped.Add(key);
        }
        if (chosen is not null)
            plan.Copies.Add((chosen, slot.Tensor));
    }

    private static StateDictMismatch? Mismatch(string key, SafeTensorInfo info, torch.Tensor target, torch.ScalarType? dtype)
    {
        if (!info.Shape.SequenceEqual(target.shape))
            return new(key, info.Shape, target.shape, $"file shape {info.ShapeText}, module shape {ShapeFormat.Of(target.shape)}");
        if (dtype is { } wanted && target.is_floating_point() && target.dtype != wanted)
            return new(key, info.Shape, target.shape, $"module tensor is {target.dtype}, DType asks {wanted} (convert the module first)");
        return KindMismatch(key, info, target);
    }

    /// <summary>A mismatch when one of file and module tensor holds floats and the other does not: a float dtype is
    /// cast to another as transformers does (a float16 file into a float32 model), but integers into floats (or the
    /// reverse) mean the file is not this model's.</summary>
    internal static StateDictMismatch? KindMismatch(string key, SafeTensorInfo info, torch.Tensor target)
    {
        if (torch.is_floating_point(info.DType) == target.is_floating_point()) return null;
        string module = SafeTensorsDType.IsSupported(target.dtype) ? SafeTensorsDType.NameOf(target.dtype) : target.dtype.ToString();
        return new(key, info.Shape, target.shape,
            $"file dtype {SafeTensorsDType.NameOf(info.DType)}, module dtype {module}: integers and floating point do not convert into each other");
    }

    /// <summary>Groups state-dict keys that are the same tensor (same memory, dtype, shape and strides).</summary>
    private static List<Slot> Slots(IReadOnlyDictionary<string, torch.Tensor> state)
    {
        var slots = new List<Slot>();
        var byIdentity = new Dictionary<string, Slot>(StringComparer.Ordinal);
        foreach (var (key, tensor) in state)
        {
            string? identity = Identity(tensor);
            var slot = slots.Find(s => ReferenceEquals(s.Tensor, tensor))
                ?? (identity is not null ? byIdentity.GetValueOrDefault(identity) : null);
            if (slot is not null)
            {
                slot.Keys.Add(key);
                continue;
            }
            slot = new Slot(tensor, [key]);
            slots.Add(slot);
            if (identity is not null)
                byIdentity[identity] = slot;
        }
        return slots;
    }

    private static string? Identity(torch.Tensor t)
    {
        nint address = TensorMemory.DataAddress(t);
        return address == 0 ? null
            : $"{address}|{t.dtype}|{ShapeFormat.Of(t.shape)}|{ShapeFormat.Of(t.stride())}";
    }
}
