// Gives a model built on the meta device its real weights straight from the checkpoint's memory map: no random
// init, no second allocation, no copy when the dtype matches (the parameters alias the file's pages).
using System.Reflection;
using Blip.Engine.Checkpoints;
using Blip.Engine.Modules;
using Blip.Engine.Modules.Text;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>Builds models on the meta device and replaces every parameter and buffer by the checkpoint's tensor,
/// with the same strict key and shape checks as <see cref="StateDictLoader"/>.</summary>
/// <remarks>Tensors whose file dtype is the target dtype alias a private (copy-on-write) mapping of the file; others
/// are converted once from it. Tied tensors (one object under several keys) stay one object. TorchSharp replaces
/// parameter fields the same way in <c>Module._to</c>: set the field, then re-register it.</remarks>
internal static class WeightMaterializer
{
    private static readonly MethodInfo RegisterParameter = Protected("ConditionallyRegisterParameter", typeof(Parameter))
        ?? Protected("ConditionallyRegisterParameter", typeof(Tensor))
        ?? throw new MissingMethodException(nameof(nn.Module), "ConditionallyRegisterParameter");

    // Only needed when a module keeps a buffer in a field (none of BLIP's do); looked up then.
    private static readonly Lazy<MethodInfo> RegisterBuffer = new(() =>
        typeof(nn.Module).GetMethods(BindingFlags.Instance | BindingFlags.NonPublic).FirstOrDefault(m =>
            m.Name == "ConditionallyRegisterBuffer" && m.GetParameters() is [{ ParameterType: var n }, { ParameterType: var t }, ..]
            && n == typeof(string) && t == typeof(Tensor))
        ?? throw new MissingMethodException(nameof(nn.Module), "ConditionallyRegisterBuffer"));

    private static MethodInfo? Protected(string name, Type valueType) =>
        typeof(nn.Module).GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic, [typeof(string), valueType]);

    /// <summary>Runs <paramref name="create"/> with the meta device as the default: parameters get shapes, no memory
    /// and no (costly) random initialisation.</summary>
    public static T CreateOnMeta<T>(Func<T> create)
    {
        var previous = get_default_device();
        set_default_device(new Device(DeviceType.META));
        try
        {
            return create();
        }
        finally
        {
            set_default_device(previous);
        }
    }

    private sealed record Site(nn.Module Owner, FieldInfo Field, string LocalName, string Key, Tensor Old);

    /// <summary>Replaces every meta tensor of <paramref name="model"/> by its checkpoint tensor in
    /// <paramref name="dtype"/> (floating-point weights; the others keep the module's), or when null in the dtype the
    /// module was built with (float32).</summary>
    /// <exception cref="StateDictMismatchException">A key is missing, unexpected, mis-shaped, or holds integers where
    /// the module holds floating point (or the reverse); nothing is replaced.</exception>
    /// <remarks>With memoryMap, parameters alias the file's private mapping (inference); without, every tensor is
    /// copied into memory the model owns.</remarks>
    public static void Materialize(nn.Module model, CheckpointReader reader, ScalarType? dtype,
        Func<string, bool> mayBeAbsent, Func<string, bool> mayBeExtra, bool memoryMap)
    {
        var state = model.state_dict();
        var slots = state.GroupBy(kv => kv.Value, ReferenceEqualityComparer.Instance)
            .Select(g => (Tensor: (Tensor)g.Key!, Keys: g.Select(kv => kv.Key).ToList())).ToList();
        var (chosen, report) = Check(slots, reader, state, mayBeAbsent, mayBeExtra);
        if (!report.IsClean) throw new StateDictMismatchException(reader.Path, report);
        var sites = Sites(model).ToList();
        var fresh = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance);
        var sources = new Dictionary<Tensor, WeightSource>(ReferenceEqualityComparer.Instance);
        using (no_grad())
        {
            foreach (var (old, key) in chosen)
            {
                var target = dtype is { } wanted && old.is_floating_point() ? wanted : old.dtype;
                fresh[old] = Fetch(reader, key, target, memoryMap, out var source);
                sources[old] = source;
            }
        }
        foreach (var site in sites)
        {
            if (!fresh.TryGetValue(site.Old, out var tensor)) continue;
            if (site.Old is Parameter parameter)
            {
                var replacement = tensor as Parameter ?? new Parameter(tensor, parameter.requires_grad);
                fresh[site.Old] = replacement;
                site.Field.SetValue(site.Owner, replacement);
                RegisterParameter.Invoke(site.Owner, [site.LocalName, replacement]);
                switch (sources[site.Old])
                {
                    case WeightSource.Mapped: OneDnnPackedLinear.Register(replacement, fileBacked: true); break;
                    case WeightSource.Narrowed: OneDnnPackedLinear.Register(replacement, fileBacked: false); break;
                }
            }
            else
            {
                site.Field.SetValue(site.Owner, tensor);
                var register = RegisterBuffer.Value;
                object?[] args = register.GetParameters().Length == 3 ? [site.LocalName, tensor, true] : [site.LocalName, tensor];
                register.Invoke(site.Owner, args);
            }
        }
        SetThroughProperties(model, state, fresh);
        // The LM head's decoder weight is the word embedding, whose parameter was just replaced: tie them again.
        foreach (var head in model.modules().Prepend(model).OfType<BlipTextLMHeadModel>()) head.TieWeights();
        var left = model.state_dict().Where(kv => kv.Value.device_type == DeviceType.META).Select(kv => kv.Key).ToList();
        if (left.Count > 0)
            throw new InvalidOperationException($"{reader.Path}: no field holds {string.Join(", ", left)}; cannot materialise it");
        foreach (var old in fresh.Keys) old.Dispose();
    }

    /// <summary>Modules that keep a parameter natively (TorchSharp's Embedding) take it through their public setter.</summary>
    private static void SetThroughProperties(nn.Module model, Dictionary<string, Tensor> state, Dictionary<Tensor, Tensor> fresh)
    {
        var owners = model.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        owners[""] = model;
        foreach (var (key, old) in state)
        {
            if (!fresh.TryGetValue(old, out var tensor)) continue;
            int dot = key.LastIndexOf('.');
            var owner = owners[dot < 0 ? "" : key[..dot]];
            string local = key[(dot + 1)..];
            var current = owner.named_parameters(recurse: false).FirstOrDefault(p => p.name == local).parameter;
            if (current is null || current.device_type != DeviceType.META) continue;
            var property = owner.GetType().GetProperty(local, BindingFlags.Instance | BindingFlags.Public);
            if (property?.SetMethod is null || !property.PropertyType.IsAssignableFrom(typeof(Parameter))) continue;
            var replacement = tensor as Parameter ?? new Parameter(tensor, old.requires_grad);
            fresh[old] = replacement;
            property.SetValue(owner, replacement);
        }
    }

    /// <summary>The file key loaded for each slot (tied keys share one), and the strict report.</summary>
    private static (List<(Tensor Old, string Key)> Chosen, StateDictLoadReport Report) Check(
        List<(Tensor Tensor, List<string> Keys)> slots, CheckpointReader reader, Dictionary<string, Tensor> state,
        Func<string, bool> mayBeAbsent, Func<string, bool> mayBeExtra)
    {
        List<string> missing = [], unexpected = [], skipped = [], loaded = [];
        List<StateDictMismatch> mismatched = [];
        var chosen = new List<(Tensor, string)>();
        foreach (var (tensor, keys) in slots)
        {
            var inFile = keys.Where(reader.Contains).ToList();
            if (inFile.Count == 0) missing.AddRange(keys.Where(k => !mayBeAbsent(k)));
            string? pick = null;
            foreach (string key in inFile)
            {
                var info = reader.Info(key);
                if (!info.Shape.SequenceEqual(tensor.shape))
                    mismatched.Add(new(key, info.Shape, tensor.shape, $"file shape {info.ShapeText}, module shape {ShapeFormat.Of(tensor.shape)}"));
                else if (StateDictLoader.KindMismatch(key, info, tensor) is { } kind) mismatched.Add(kind);
                else if (pick is null) pick = key;
                else skipped.Add(key);
            }
            if (pick is null) continue;
            chosen.Add((tensor, pick));
            loaded.Add(pick);
        }
        foreach (string name in reader.Names.Where(n => !state.ContainsKey(n)))
            (mayBeExtra(name) ? skipped : unexpected).Add(name);
        return (chosen, new StateDictLoadReport(loaded, missing, unexpected, mismatched, skipped));
    }

    /// <summary>Where a materialized tensor's memory comes from; it decides whether OneDnnPackedLinear may pack it.</summary>
    private enum WeightSource
    {
        /// <summary>Aliases the file's mapping: a packed copy replaces its pages (they are released).</summary>
        Mapped,

        /// <summary>Converted once to a narrower dtype (bfloat16 from a float32 file): the model owns half the file's
        /// bytes or less, so a packed copy of its linears keeps it below the file's size.</summary>
        Narrowed,

        /// <summary>Any other copy: packing would double the memory the model owns, so it is not packed.</summary>
        Copied,
    }

    /// <summary>The file's tensor as an alias of the mapped file when possible, else a copy converted to
    /// <paramref name="dtype"/> (the same kind as the file's: <see cref="Check"/> made sure of it).</summary>
    private static Tensor Fetch(CheckpointReader reader, string key, ScalarType dtype, bool memoryMap, out WeightSource source)
    {
        var file = reader.FileOf(key);
        var stored = file.Info(key).DType;
        ScalarType? target = dtype != stored ? dtype : null;
        var mapped = memoryMap && target is null ? file.Map(key) : null;
        if (mapped is not null)
        {
            source = WeightSource.Mapped;
            return mapped;
        }

        // A copy (owned weights, a dtype conversion, or an unaligned tensor): its file pages are not needed afterwards.
        var copy = file.Load(key, target);
        file.ReleasePages(key);
        bool narrowed = target is { } narrow && SafeTensorsDType.IsSupported(narrow) && SafeTensorsDType.SizeOf(narrow) < SafeTensorsDType.SizeOf(stored);
        source = narrowed ? WeightSource.Narrowed : WeightSource.Copied;
        return copy;
    }

    /// <summary>Every field of every module that holds a parameter or buffer, with its state-dict key.</summary>
    private static IEnumerable<Site> Sites(nn.Module model)
    {
        var modules = new List<(string Prefix, nn.Module Module)> { ("", model) };
        modules.AddRange(model.named_modules().Select(m => (m.name + ".", m.module)));
        foreach (var (prefix, module) in modules)
        {
            for (var type = module.GetType(); type is not null && type != typeof(nn.Module); type = type.BaseType)
            {
                foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (field.GetValue(module) is not Tensor tensor) continue;
                    string local = field.GetCustomAttribute<ComponentNameAttribute>()?.Name ?? field.Name;
                    yield return new Site(module, field, local, prefix + local, tensor);
                }
            }
        }
    }
}
