// Writes safetensors files byte-for-byte as python's safetensors.torch.save_file does.
using System.Buffers.Binary;
using System.Text;
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>Writes tensors to a safetensors file.</summary>
/// <remarks>
/// Reproduces python's <c>safetensors</c> 0.8 <c>serialize</c>: tensors ordered by dtype (in its dtype
/// order, largest first: I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then by name (UTF-8 bytes);
/// compact JSON with <c>__metadata__</c> first; the header padded with spaces to a multiple of 8. With the same
/// tensors and metadata (one metadata entry, or keys python happens to order alike) the files are identical.
/// Unlike python, tensors that share memory are accepted; each is written in full.
/// </remarks>
public static class SafeTensorsWriter
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The metadata transformers writes: <c>{"format": "pt"}</c>.</summary>
    public static IReadOnlyDictionary<string, string> DefaultMetadata { get; } =
        new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>
    /// Saves <paramref name="tensors"/> to <paramref name="path"/>, through a temporary file in the same folder
    /// renamed over the target at the end, so an interrupted save never leaves a partial file.
    /// </summary>
    /// <param name="path">The file to write (replaced if it exists).</param>
    /// <param name="tensors">Names and tensors; any device, any layout (made contiguous on the CPU to write).</param>
    /// <param name="metadata">The <c>__metadata__</c>; null writes <see cref="DefaultMetadata"/>.</param>
    /// <exception cref="ArgumentException">A name repeats, is <c>__metadata__</c> or is not valid Unicode; a tensor is null, disposed, on the meta device or sparse; a dtype has no safetensors name; a metadata value is null.</exception>
    /// <exception cref="DirectoryNotFoundException">The folder of <paramref name="path"/> does not exist.</exception>
    public static void Save(
        string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var entries = Collect(path, tensors);
        entries.Sort(CompareAsPython);
        metadata ??= DefaultMetadata;
        foreach (var (key, value) in metadata)
        {
            Utf8(key, path, "a metadata key");
            if (value is null)
                throw new ArgumentException($"{path}: metadata '{key}' is null; safetensors metadata values are strings.", nameof(metadata));
            Utf8(value, path, $"metadata '{key}'");
        }
        byte[] header = BuildHeader(entries, metadata);
        WriteAtomically(path, header, entries);
    }

    private sealed record Entry(string Name, byte[] Utf8Name, torch.Tensor Tensor, long ByteLength);

    private static List<Entry> Collect(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            string at = $"tensors[{entries.Count}]";
            if (name is null || tensor is null)
                throw new ArgumentException($"{path}: {at} has a null {(name is null ? "name" : $"tensor ('{name}')")}.", nameof(tensors));
            byte[] utf8 = Utf8(name, path, $"{at}, the name");
            if (tensor.IsInvalid)
                throw new ArgumentException($"{path}: tensor '{name}' is disposed.", nameof(tensors));
            if (tensor.device_type == DeviceType.META || tensor.is_sparse)
                throw new ArgumentException(
                    $"{path}: tensor '{name}' has no data to write ({(tensor.is_sparse ? "sparse" : "meta device")}; safetensors stores dense tensors).",
                    nameof(tensors));
            if (name == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"{path}: '{name}' is reserved for metadata and cannot name a tensor.", nameof(tensors));
            if (!names.Add(name))
                throw new ArgumentException($"{path}: the tensor name '{name}' is given twice.", nameof(tensors));
            if (!SafeTensorsDType.IsSupported(tensor.dtype))
                throw new ArgumentException(
                    $"{path}: tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store here (supported: {SafeTensorsDType.Supported}).",
                    nameof(tensors));
            entries.Add(new Entry(name, utf8, tensor, tensor.numel() * SafeTensorsDType.SizeOf(tensor.dtype)));
        }
        return entries;
    }

    // Unpaired UTF-16 surrogates have no UTF-8 form; say which text holds one.
    private static byte[] Utf8(string text, string path, string what)
    {
        try
        {
            return StrictUtf8.GetBytes(text);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"{path}: {what} is not valid Unicode text ({e.Message}).", e);
        }
    }

    private static int CompareAsPython(Entry a, Entry b)
    {
        int byType = SafeTensorsDType.Rank(b.Tensor.dtype).CompareTo(SafeTensorsDType.Rank(a.Tensor.dtype));
        return byType != 0 ? byType : a.Utf8Name.AsSpan().SequenceCompareTo(b.Utf8Name);
    }

    private static byte[] BuildHeader(List<Entry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        var json = new StringBuilder("{");
        json.Append('"').Append(SafeTensorsHeader.MetadataKey).Append("\":{");
        json.AppendJoin(',', metadata.OrderBy(m => m.Key, StringComparer.Ordinal)
            .Select(m => Quote(m.Key) + ":" + Quote(m.Value)));
        json.Append('}');
        long offset = 0;
        foreach (var e in entries)
        {
            json.Append(',').Append(Quote(e.Name)).Append(":{\"dtype\":\"").Append(SafeTensorsDType.NameOf(e.Tensor.dtype))
                .Append("\",\"shape\":[").AppendJoin(',', e.Tensor.shape)
                .Append("],\"data_offsets\":[").Append(offset).Append(',').Append(offset + e.ByteLength).Append("]}");
            offset += e.ByteLength;
        }
        json.Append('}');
        int length = StrictUtf8.GetByteCount(json.ToString());
        json.Append(' ', (8 - length % 8) % 8);
        return StrictUtf8.GetBytes(json.ToString());
    }

    /// <summary>JSON string as serde_json writes it: only quote, backslash and control characters escaped.</summary>
    private static string Quote(string s)
    {
        var q = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            _ = c switch
            {
                '"' => q.Append("\\\""),
                '\\' => q.Append("\\\\"),
                '\b' => q.Append("\\b"),
                '\f' => q.Append("\\f"),
                '\n' => q.Append("\\n"),
                '\r' => q.Append("\\r"),
                '\t' => q.Append("\\t"),
                < ' ' => q.Append("\\u00").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture)),
                _ => q.Append(c),
            };
        }
        return q.Append('"').ToString();
    }

    private static void WriteAtomically(string path, byte[] header, List<Entry> entries)
    {
        string full = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"Cannot save '{path}': the folder '{folder}' does not exist.");
        string temp = Path.Combine(folder, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var e in entries)
                    WriteData(e.Tensor, stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private static void WriteData(torch.Tensor tensor, Stream stream)
    {
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        var contiguous = cpu.is_contiguous() ? cpu : cpu.contiguous();
        try
        {
            TensorMemory.WriteTo(contiguous, stream);
        }
        finally
        {
            if (!ReferenceEquals(contiguous, cpu))
                contiguous.Dispose();
            if (!ReferenceEquals(cpu, tensor))
                cpu.Dispose();
        }
    }
}
