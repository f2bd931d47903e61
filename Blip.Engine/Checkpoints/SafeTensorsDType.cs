// The dtypes safetensors names, their sizes, and the order python's safetensors writes them in.
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>Maps safetensors dtype names to TorchSharp scalar types.</summary>
internal static class SafeTensorsDType
{
    // In safetensors' Rust `Dtype` enum order (smallest first); `serialize` sorts by this, descending.
    private static readonly (string Name, torch.ScalarType Type, int Size)[] Table =
    [
        ("BOOL", torch.ScalarType.Bool, 1),
        ("U8", torch.ScalarType.Byte, 1),
        ("I8", torch.ScalarType.Int8, 1),
        ("I16", torch.ScalarType.Int16, 2),
        ("F16", torch.ScalarType.Float16, 2),
        ("BF16", torch.ScalarType.BFloat16, 2),
        ("I32", torch.ScalarType.Int32, 4),
        ("F32", torch.ScalarType.Float32, 4),
        ("F64", torch.ScalarType.Float64, 8),
        ("I64", torch.ScalarType.Int64, 8),
    ];

    /// <summary>The names accepted, for messages.</summary>
    public static string Supported => string.Join("/", Table.Select(e => e.Name));

    public static bool TryParse(string name, out torch.ScalarType type)
    {
        int i = Array.FindIndex(Table, e => e.Name == name);
        type = i >= 0 ? Table[i].Type : default;
        return i >= 0;
    }

    public static string NameOf(torch.ScalarType type) => Table[IndexOf(type)].Name;

    public static int SizeOf(torch.ScalarType type) => Table[IndexOf(type)].Size;

    /// <summary>Position in safetensors' dtype order; python writes higher ranks first.</summary>
    public static int Rank(torch.ScalarType type) => IndexOf(type);

    public static bool IsSupported(torch.ScalarType type) => Array.FindIndex(Table, e => e.Type == type) >= 0;

    private static int IndexOf(torch.ScalarType type)
    {
        int i = Array.FindIndex(Table, e => e.Type == type);
        return i >= 0 ? i : throw new ArgumentException($"dtype {type} cannot be stored in safetensors (supported: {Supported}).", nameof(type));
    }
}
