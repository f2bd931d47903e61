// Parses and validates the JSON header of a safetensors file with Utf8JsonReader (which, unlike
// JsonDocument, lets us reject duplicate keys).
using System.Text.Json;
using System.Text.Unicode;
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>The validated content of a safetensors header.</summary>
internal sealed record SafeTensorsHeader(
    IReadOnlyDictionary<string, string> Metadata, IReadOnlyDictionary<string, SafeTensorInfo> Tensors)
{
    public const string MetadataKey = "__metadata__";

    /// <summary>Parses <paramref name="json"/>; offsets become file offsets by adding <paramref name="dataStart"/>.</summary>
    public static SafeTensorsHeader Parse(string path, ReadOnlySpan<byte> json, long dataStart, long dataLength)
    {
        if (!Utf8.IsValid(json))
            throw new CheckpointFormatException(path, null, "the header is not valid UTF-8");
        try
        {
            return ParseJson(path, json, dataStart, dataLength);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, null, $"the header is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e) // a name or string escaping a lone surrogate ("\ud800"): valid UTF-8, not text
        {
            throw new CheckpointFormatException(path, null, $"the header holds a string that is not text: {e.Message}", e);
        }
    }

    private static SafeTensorsHeader ParseJson(string path, ReadOnlySpan<byte> json, long dataStart, long dataLength)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(path, null, "the header is not a JSON object");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            if (!seen.Add(key))
                throw new CheckpointFormatException(path, key, "the key appears twice in the header");
            reader.Read();
            if (key == MetadataKey)
                ReadMetadata(ref reader, path, metadata);
            else
                tensors.Add(key, ReadTensor(ref reader, path, key, dataStart, dataLength));
        }
        if (reader.Read())
            throw new CheckpointFormatException(path, null, "the header has content after its JSON object");
        CheckCoverage(path, tensors.Values, dataStart, dataLength);
        return new SafeTensorsHeader(metadata, tensors);
    }

    // The metadata object; null is no metadata, as python's safetensors reads it (its metadata() is then None, which
    // transformers loads).
    private static void ReadMetadata(ref Utf8JsonReader reader, string path, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(path, MetadataKey, "must be a JSON object of strings");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new CheckpointFormatException(path, $"{MetadataKey}.{key}", "metadata values must be strings");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new CheckpointFormatException(path, $"{MetadataKey}.{key}", "the key appears twice in the metadata");
        }
    }

    private static SafeTensorInfo ReadTensor(ref Utf8JsonReader reader, string path, string name, long dataStart, long dataLength)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new CheckpointFormatException(path, name, "the entry is not a JSON object with dtype, shape and data_offsets");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        var fields = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string field = reader.GetString()!;
            if (!fields.Add(field))
                throw new CheckpointFormatException(path, name, $"the field '{field}' appears twice");
            reader.Read();
            switch (field)
            {
                case "dtype":
                    dtype = reader.TokenType == JsonTokenType.String ? reader.GetString()
                        : throw new CheckpointFormatException(path, name, "'dtype' must be a string");
                    break;
                case "shape": shape = ReadIntegers(ref reader, path, name, field); break;
                case "data_offsets": offsets = ReadIntegers(ref reader, path, name, field); break;
                default: reader.Skip(); break; // python's safetensors ignores unknown fields too
            }
        }
        return Validate(path, name, dtype, shape, offsets, dataStart, dataLength);
    }

    private static long[] ReadIntegers(ref Utf8JsonReader reader, string path, string name, string field)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new CheckpointFormatException(path, name, $"'{field}' must be an array of integers");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw new CheckpointFormatException(path, name, $"'{field}' must hold integers that fit in 64 bits");
            if (v == 0 && reader.ValueSpan[0] == (byte)'-')   // python's serde reads -0 as a float, which no field takes
                throw new CheckpointFormatException(path, name, $"'{field}' holds -0, which is not an unsigned integer");
            values.Add(v);
        }
        return [.. values];
    }

    private static SafeTensorInfo Validate(
        string path, string name, string? dtype, long[]? shape, long[]? offsets, long dataStart, long dataLength)
    {
        if (dtype is null || shape is null || offsets is null)
            throw new CheckpointFormatException(path, name, $"the entry lacks '{(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}'");
        if (!SafeTensorsDType.TryParse(dtype, out torch.ScalarType type))
            throw new CheckpointFormatException(path, name, $"unknown dtype '{dtype}' (supported: {SafeTensorsDType.Supported})");
        if (shape.Any(d => d < 0))
            throw new CheckpointFormatException(path, name, $"shape {ShapeFormat.Of(shape)} has a negative dimension");
        if (offsets.Length != 2)
            throw new CheckpointFormatException(path, name, $"data_offsets must be [begin, end], got {ShapeFormat.Of(offsets)}");
        (long begin, long end) = (offsets[0], offsets[1]);
        if (begin < 0 || begin > end)
            throw new CheckpointFormatException(path, name, $"data_offsets [{begin}, {end}]: begin is after end or negative");
        if (end > dataLength)
            throw new CheckpointFormatException(path, name, $"data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes)");
        long expected = ByteLength(path, name, shape, type);
        if (expected != end - begin)
            throw new CheckpointFormatException(path, name,
                $"shape {ShapeFormat.Of(shape)} of {dtype} needs {expected} bytes but data_offsets [{begin}, {end}] span {end - begin}");
        return new SafeTensorInfo(name, type, shape, dataStart + begin, dataStart + end);
    }

    /// <summary>The data's size in bytes; refuses the shapes python's safetensors refuses and those whose strides libtorch
    /// cannot hold.</summary>
    /// <remarks>Python's safetensors multiplies the dimensions left to right and the product by the dtype's bits in
    /// unsigned 64-bit integers, refusing an overflow ("overflow computing buffer size"): <c>[2^40, 2^40, 0]</c> is
    /// refused, <c>[0, 2^40, 2^40]</c> and <c>[0, 2^63 − 1]</c> are empty tensors there. libtorch's contiguous strides
    /// are the products of the later dimensions, zeros counted as 1, in a long: <c>[0, 2^40, 2^40]</c> fails there
    /// ("Stride calculation overflowed", no file or key), so it is refused here too, the one shape python reads that
    /// this reader does not.</remarks>
    private static long ByteLength(string path, string name, long[] shape, torch.ScalarType type)
    {
        try
        {
            ulong elements = 1;
            foreach (long d in shape) elements = checked(elements * (ulong)d);
            _ = checked(elements * (ulong)SafeTensorsDType.SizeOf(type) * 8);
            long stride = 1;
            for (int i = shape.Length - 1; i > 0; i--) stride = checked(stride * Math.Max(shape[i], 1));
            return checked((long)elements * SafeTensorsDType.SizeOf(type));
        }
        catch (OverflowException e)
        {
            throw new CheckpointFormatException(path, name, $"shape {ShapeFormat.Of(shape)} is too large", e);
        }
    }

    /// <summary>
    /// The tensors, in offset order, must cover the data exactly, with no overlap, hole or trailing byte: the format's
    /// rule against polyglot files, which python's safetensors enforces ("invalid offset for tensor", "file not fully
    /// covered") and so transformers refuses such a file too.
    /// </summary>
    private static void CheckCoverage(string path, IEnumerable<SafeTensorInfo> tensors, long dataStart, long dataLength)
    {
        SafeTensorInfo? previous = null;
        long covered = dataStart;
        foreach (var t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < covered)
                throw new CheckpointFormatException(path, t.Name,
                    $"data_offsets overlap those of '{previous!.Name}' (bytes {t.Begin}..{t.End} against {previous.Begin}..{previous.End} of the file)");
            if (t.Begin > covered)
                throw new CheckpointFormatException(path, t.Name,
                    $"data_offsets [{t.Begin - dataStart}, {t.End - dataStart}] leave a hole of {t.Begin - covered} bytes before them "
                    + "(the tensors must cover the data with no gap, as python's safetensors requires)");
            (previous, covered) = (t, t.End);
        }
        if (covered != dataStart + dataLength)
            throw new CheckpointFormatException(path, null,
                $"{dataStart + dataLength - covered} bytes after the last tensor's data are not covered by any tensor "
                + "(python's safetensors refuses such a file: \"file not fully covered\")");
    }
}
