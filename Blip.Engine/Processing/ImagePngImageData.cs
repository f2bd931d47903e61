// A PNG's IDAT zlib stream that stops after the last row's data (cut before its final block or its Adler-32): Pillow's
// ZipDecoder stops inflating once it has every row and reads such a file; libpng, under Skia, meets the IEND with
// the stream unfinished and refuses it ("ErrorInInput"). Hand-written: the rows are inflated with .NET's zlib,
// exactly as many bytes as the image needs, and deflated again into one IDAT whole with its end and Adler-32.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Blip.Engine.Processing;

/// <summary>Ends a PNG's image data stream that Pillow reads whole but libpng finds unfinished.</summary>
internal static class ImagePngImageData
{
    /// <summary>
    /// The data with its first run of IDAT chunks replaced by one IDAT holding the image's rows in a finished zlib
    /// stream, or null: only where every row inflates and what follows them inflates on, or ends, without a zlib
    /// error (a wrong Adler-32 or a bad block right after the rows, which Pillow refuses too, gives null). Called only
    /// once Skia has refused the file, so a whole PNG is never inflated twice.
    /// </summary>
    public static byte[]? EndStream(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _) || RowBytes(png) is not { } size) return null;
        if (ImagePngChunks.ImageData(png) is not { } start) return null;
        int first = (int)start;
        var (stream, after) = Gather(png, first);
        var rows = new byte[size];
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(stream), CompressionMode.Decompress);
            int read = zlib.ReadAtLeast(rows, rows.Length, throwOnEndOfStream: false);
            if (read < rows.Length) return EndedBeforeLastRow(png, first, stream, rows, read) ? Finished(png, first, after, rows) : null;
            _ = zlib.Read(new byte[1]); // past the rows: a zlib error here is Pillow's too (it reads on while no output is needed)
        }
        catch (Exception e) when (IsZlibError(e))
        {
            return null;
        }

        return Finished(png, first, after, rows);
    }

    // The data with the IDAT run at first..after replaced by one IDAT of rows in a finished zlib stream.
    private static byte[] Finished(ReadOnlySpan<byte> png, int first, int after, byte[] rows)
    {
        using var deflated = new MemoryStream();
        using (var zlib = new ZLibStream(deflated, CompressionLevel.Fastest, leaveOpen: true)) zlib.Write(rows);
        byte[] idat = ImagePngChunks.Chunk("IDAT"u8, deflated.ToArray());
        byte[] tail = after < png.Length ? png[after..].ToArray() : [0, 0, 0, 0, .. "IEND"u8, 0xAE, 0x42, 0x60, 0x82];
        return [.. png[..first], .. idat, .. tail];
    }

    // Whether a stream that gave only `read` of the rows' bytes ended whole where Pillow still reads the file: Pillow's
    // ZipDecoder stops at the stream's end and leaves the missing rows zero (rows is zeros past `read`, and a zero row
    // of filter 0 is zero pixels), but only where inflate reaches the stream's end in the same call that completes a row;
    // it refuses a stream that ends inside a row, or whose last row is complete before the read that holds the stream's
    // end (the Adler-32 alone, or with the end-of-block code, in the next IDAT chunk: that read completes no row, and
    // the decoder asks for more). An interlaced image is read the same way where the stream ends after a whole row of
    // an Adam7 pass (tools/reference/make_decode_cases.py, zlib_ended_*_interlaced). .NET's inflater does not say where
    // a stream ended or whether it was cut, so the end is where the Adler-32 of the bytes read stands (which it has
    // checked), and the stream up to the read that holds it must give fewer bytes than `read`.
    private static bool EndedBeforeLastRow(ReadOnlySpan<byte> png, int first, byte[] stream, byte[] rows, int read)
    {
        if (read == 0 || !EndsAtRow(png, read)) return false;
        Span<byte> adler = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(adler, Adler32(rows.AsSpan(0, read)));
        int at = stream.AsSpan().LastIndexOf(adler);
        if (at < 0 || ReadStart(png, first, at + 3) is not { } start) return false;
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(stream, 0, start), CompressionMode.Decompress);
            return zlib.ReadAtLeast(new byte[read], read, throwOnEndOfStream: false) < read;
        }
        catch (Exception e) when (IsZlibError(e))
        {
            return false;
        }
    }

    // Where in the joined IDAT bodies the read that holds byte `at` starts: ImageFile.load reads the image data 64 KiB at
    // a time (MAXBLOCK), and PngImageFile.load_read no further than the end of the current IDAT chunk.
    private static int? ReadStart(ReadOnlySpan<byte> png, int first, int at)
    {
        const int MaxBlock = 65536;
        long pos = first, offset = 0;
        while (pos + 8 <= png.Length && png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8))
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (at < offset + length) return (int)(offset + ((at - offset) / MaxBlock * MaxBlock));
            offset += length;
            pos += 12 + length;
        }

        return null;
    }

    // zlib's Adler-32 (RFC 1950); .NET has none public.
    private static uint Adler32(ReadOnlySpan<byte> data)
    {
        uint a = 1, b = 0;
        foreach (byte x in data)
        {
            a = (a + x) % 65521;
            b = (b + a) % 65521;
        }

        return (b << 16) | a;
    }

    /// <summary>Whether inflating data in memory raised on it: .NET's InvalidDataException for a data error, its internal
    /// ZLibException (an IOException) for the others zlib reports, such as a header that asks for a preset dictionary
    /// (Z_NEED_DICT); Python's zlib raises zlib.error on both.</summary>
    internal static bool IsZlibError(Exception e) => e is InvalidDataException or IOException;

    /// <summary>Whether the IDAT chunks from <paramref name="first"/> up to <paramref name="end"/> inflate to every row the
    /// header asks for (zlib errors and a cut stream: false). Inflates them: called only for a file cut inside a later
    /// IDAT chunk.</summary>
    public static bool HoldsAllRows(ReadOnlySpan<byte> png, int first, int end)
    {
        if (RowBytes(png) is not { } size) return false;
        var (stream, _) = Gather(png[..end], first);
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(stream), CompressionMode.Decompress);
            return zlib.ReadAtLeast(new byte[size], size, throwOnEndOfStream: false) == size;
        }
        catch (Exception e) when (IsZlibError(e))
        {
            return false;
        }
    }

    // The bytes of filtered rows the IHDR asks for (a filter byte per row of each Adam7 pass), or null when the
    // header is not one of the PNG specification's colour types and depths or the size passes an array's.
    private static int? RowBytes(ReadOnlySpan<byte> png)
    {
        if (Passes(png) is not { } passes) return null;
        long total = 0;
        foreach (var (rows, stride) in passes) total += rows * stride;
        return total > 0 && total <= Array.MaxLength ? (int)total : null;
    }

    // Whether the first `read` bytes of the filtered rows end after a whole row (of an Adam7 pass when interlaced).
    private static bool EndsAtRow(ReadOnlySpan<byte> png, long read)
    {
        foreach (var (rows, stride) in Passes(png) ?? [])
        {
            if (read <= rows * stride) return read % stride == 0;
            read -= rows * stride;
        }

        return false;
    }

    // The rows of each pass (one pass when not interlaced; Adam7's empty passes left out) and each row's bytes, its
    // filter byte included; null for a header outside the PNG specification's colour types, depths and interlace methods.
    private static (long Rows, long Stride)[]? Passes(ReadOnlySpan<byte> png)
    {
        long width = BinaryPrimitives.ReadUInt32BigEndian(png[16..]), height = BinaryPrimitives.ReadUInt32BigEndian(png[20..]);
        int depth = png[24], channels = png[25] switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (channels == 0 || depth is not (1 or 2 or 4 or 8 or 16) || png.Length < 29 || png[28] > 1) return null;
        var passes = new List<(long, long)>(7);
        foreach (var (x0, y0, dx, dy) in png[28] == 1 ? ImagePngGray16.Adam7 : [(0, 0, 1, 1)])
        {
            long w = (width - x0 + dx - 1) / dx, h = (height - y0 + dy - 1) / dy;
            if (w > 0 && h > 0) passes.Add((h, 1 + ((w * channels * depth) + 7) / 8));
        }

        return [.. passes];
    }

    // The IDAT bodies of the run starting at first, joined (a body cut by the end of the data as far as it goes, as
    // Pillow reads it), and where the chunk after the run starts.
    private static (byte[] Stream, int After) Gather(ReadOnlySpan<byte> png, int first)
    {
        using var stream = new MemoryStream();
        long pos = first;
        while (pos + 8 <= png.Length && png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8))
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            stream.Write(png[(int)(pos + 8)..(int)Math.Min(png.Length, pos + 8 + length)]);
            pos += 12 + length;
        }

        return (stream.ToArray(), (int)Math.Min(pos, png.Length));
    }
}
