// A safetensors file, memory-mapped read-only: header validated at Open, tensors copied out once.
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using TorchSharp;

namespace Blip.Engine.Checkpoints;

/// <summary>
/// Reads a safetensors file (8-byte little-endian header length, JSON header, raw data) through a
/// read-only memory map. Every tensor's data is copied at most once into tensor memory.
/// </summary>
/// <remarks>
/// Validation follows python's <c>safetensors</c> (header at most 100 MB, known dtypes, byte lengths that
/// match shapes, tensors that cover the data exactly with no overlap, hole or trailing byte, no duplicate keys).
/// Unknown fields inside a tensor entry are ignored, as python does. Big-endian hosts are not supported.
/// </remarks>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>The largest header accepted, as in python's safetensors.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeTensorsHeader _header;
    private unsafe byte* _base;
    private readonly long _length;
    private readonly Dictionary<torch.ScalarType, torch.Tensor> _mapped = [];  // the whole file as [n] of a dtype (see Map)

    private unsafe SafeTensorsFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        _length = length;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
        try
        {
            _header = ReadHeader(path, _base, length);
        }
        catch
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            throw;
        }
    }

    /// <summary>The file's path as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>The <c>__metadata__</c> of the header (empty when it has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>The tensors of the file by name, in header order.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _header.Tensors;

    /// <summary>Opens, maps and validates <paramref name="path"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file is not a valid safetensors file.</exception>
    /// <exception cref="PlatformNotSupportedException">The host is big-endian.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException($"{path}: safetensors data is little-endian; big-endian hosts are not supported.");
        // A stream, not FileInfo.Length: the Hub cache's snapshot files are symbolic links to blobs, and FileInfo's
        // length is the link's own (the length of "../../blobs/<sha256>"), not the file's.
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read); // FileNotFoundException naming the file
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = stream.Length;
            if (length == 0)
                throw new CheckpointFormatException(path, null, "the file is empty (0 bytes); a safetensors file starts with an 8-byte header length");
            if (length < 8)
                throw new CheckpointFormatException(path, null, $"the file is {length} bytes, shorter than the 8-byte header length");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new SafeTensorsFile(path, length, map, view);
        }
        catch
        {
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The entry for <paramref name="name"/>.</summary>
    /// <exception cref="CheckpointFormatException">The file has no tensor of that name.</exception>
    public SafeTensorInfo Info(string name) =>
        Tensors.TryGetValue(name, out var info) ? info
            : throw new CheckpointFormatException(Path, name, $"no tensor of that name in the file ({Tensors.Count} tensors)");

    /// <summary>
    /// Loads a tensor: allocates it on the CPU in the file's dtype and copies the bytes once; then converts
    /// to <paramref name="dtype"/> and moves to <paramref name="device"/> only when they differ.
    /// </summary>
    public unsafe torch.Tensor Load(string name, torch.ScalarType? dtype = null, torch.Device? device = null)
    {
        var info = Info(name);
        ObjectDisposedException.ThrowIf(_base == null, this);
        var raw = torch.empty(info.Shape, info.DType, torch.CPU);
        try
        {
            TensorMemory.CopyFrom(_base + info.Begin, info.ByteLength, raw);
            if (dtype is null && device is null)
                return raw;
            var converted = raw.to(dtype ?? info.DType, device ?? raw.device);
            if (!ReferenceEquals(converted, raw))
                raw.Dispose();
            return converted;
        }
        catch
        {
            raw.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Drops the pages holding <paramref name="name"/>'s bytes from this process's resident set, after they were copied
    /// out with <see cref="Load"/> or <see cref="CopyInto"/>: a mapped page stays resident until the file is closed, so
    /// loading a whole checkpoint through the map would otherwise hold the file's bytes and their copies at once. The
    /// file stays usable (a later read faults the pages back in from the page cache). Tensors returned by
    /// <see cref="Map"/> use their own mapping and are not affected.
    /// </summary>
    public unsafe void ReleasePages(string name)
    {
        var info = Info(name);
        ObjectDisposedException.ThrowIf(_base == null, this);
        MappedPages.Release(_base + info.Begin, info.ByteLength);
    }

    /// <summary>
    /// The tensor <paramref name="name"/> without a copy: a view of a private, copy-on-write memory map of the file
    /// that libtorch owns (it stays valid after <see cref="Dispose"/> and is unmapped with its last tensor). Pages are
    /// read on first use; writes go to private copies, never to the file. Null when the tensor's offset is not a
    /// multiple of its element size (then use <see cref="Load"/>).
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file has no tensor of that name.</exception>
    public unsafe torch.Tensor? Map(string name)
    {
        var info = Info(name);
        ObjectDisposedException.ThrowIf(_base == null, this);
        long elementSize = info.ByteLength / Math.Max(1, info.Shape.Aggregate(1L, (a, b) => a * b));
        if (info.ByteLength == 0 || elementSize == 0 || info.Begin % elementSize != 0)
            return null;
        // libtorch maps a file from byte 0 as one dtype; so one mapping per dtype present, sliced per tensor.
        if (!_mapped.TryGetValue(info.DType, out var whole))
            _mapped[info.DType] = whole = torch.from_file(Path, shared: false, size: _length / elementSize, dtype: info.DType);
        using var flat = whole.narrow(0, info.Begin / elementSize, info.ByteLength / elementSize);
        return flat.view(info.Shape);
    }

    /// <summary>
    /// Copies the tensor <paramref name="name"/> into <paramref name="destination"/> in place (its identity is kept).
    /// Same dtype on the CPU and contiguous: one memcpy into its memory; otherwise loaded, then converted by
    /// <c>copy_</c> under <c>no_grad</c>.
    /// </summary>
    /// <exception cref="CheckpointFormatException">No such tensor, or the shapes differ.</exception>
    public unsafe void CopyInto(string name, torch.Tensor destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var info = Info(name);
        if (!info.Shape.SequenceEqual(destination.shape))
            throw new CheckpointFormatException(Path, name,
                $"file shape {info.ShapeText} does not match destination shape {ShapeFormat.Of(destination.shape)}");
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (destination.dtype == info.DType && TensorMemory.IsDirectlyWritable(destination))
        {
            TensorMemory.CopyFrom(_base + info.Begin, info.ByteLength, destination);
            return;
        }
        using var loaded = Load(name);
        using var _ = torch.no_grad();
        destination.copy_(loaded);
    }

    /// <summary>Unmaps the file. Tensors already loaded stay valid.</summary>
    public unsafe void Dispose()
    {
        if (_base == null)
            return;
        _base = null;
        foreach (var whole in _mapped.Values) whole.Dispose();
        _mapped.Clear();
        ReleaseView(_view);
        _map.Dispose();
    }

    private static unsafe SafeTensorsHeader ReadHeader(string path, byte* start, long fileLength)
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(start, 8));
        if (n > MaxHeaderBytes)
            throw new CheckpointFormatException(path, null, $"the header length {n} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?)");
        if (8 + (long)n > fileLength)
            throw new CheckpointFormatException(path, null, $"the header length {n} runs past the end of the {fileLength}-byte file (truncated?)");
        var json = new ReadOnlySpan<byte>(start + 8, (int)n);
        return SafeTensorsHeader.Parse(path, json, 8 + (long)n, fileLength - 8 - (long)n);
    }

    private static void ReleaseView(MemoryMappedViewAccessor view)
    {
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
    }
}
