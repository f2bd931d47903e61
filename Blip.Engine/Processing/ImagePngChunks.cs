// The chunks before a PNG's image data, checked as Pillow's PngImageFile._open reads them: every one must have a
// chunk type of four word characters, its whole body and a CRC that matches ("broken PNG file"). libpng, under
// Skia, only warns about a bad CRC in an ancillary chunk (gAMA, tEXt, eXIf...) and drops the chunk, so such files
// decoded here while Pillow cannot open them; nor does it know that Pillow refuses a zTXt of an unknown compression.
// After the image data Pillow reads on without checking CRCs (an IDAT's, which libpng refuses, is mended here) but
// refuses a chunk cut by the end of the file, which libpng, having its pixels, never reads.
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Blip.Engine.Processing;

/// <summary>Finds what makes Pillow refuse a PNG's header chunks.</summary>
internal static class ImagePngChunks
{
    /// <summary>Pillow's complaint about the chunks before the image data, or null (also for data that is not a PNG).</summary>
    public static string? BrokenHeader(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _))
        {
            return null;
        }

        for (long pos = 8; pos + 8 <= png.Length;)
        {
            var type = png.Slice((int)pos + 4, 4);
            string name = System.Text.Encoding.ASCII.GetString(type);
            if (!IsChunkType(type))
            {
                return $"chunk type {Convert.ToHexString(type)} at byte {pos} is not four letters or digits";
            }

            if (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("fdAT"u8))
            {
                return null;
            }

            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (pos + 12 + length > png.Length)
            {
                return $"its {name} chunk at byte {pos} ({length} bytes and a CRC) runs past the end of the data";
            }

            uint crc = Crc32.HashToUInt32(png.Slice((int)pos + 4, 4 + (int)length));
            if (crc != BinaryPrimitives.ReadUInt32BigEndian(png[(int)(pos + 8 + length)..]))
            {
                return $"its {name} chunk at byte {pos} has a bad CRC";
            }

            if (UnknownTextCompression(type, png.Slice((int)pos + 8, (int)length)))
            {
                return $"its zTXt chunk at byte {pos} names a compression method other than 0 (Pillow: SyntaxError)";
            }

            pos += 12 + length;
        }

        return null; // the data ends before any image data: Skia reports that
    }

    /// <summary>
    /// Pillow's complaint about the chunks after the image data, which PngImageFile.load_end reads once the pixels are
    /// decoded (up to IEND, the end of the data or 8 bytes that are not a chunk header): a chunk whose body runs past
    /// the end of the data ("Truncated File Read") or a zTXt of an unknown compression method. Null when there is none.
    /// The run of IDAT chunks counts as the image data whole (a cut IDAT is the pixel decoder's to judge).
    /// </summary>
    public static string? BrokenTail(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _) || ImageData(png) is not { } pos)
        {
            return null;
        }

        long first = pos;
        while (pos + 8 <= png.Length && png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8))   // a cut IDAT is one too
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            // Pillow's load_end skips the IDAT chunks after the one its decoder finished in, and one whose body runs past
            // the end of the file fails there; the rows ending in this chunk or later are the decoder's to judge.
            if (pos > first && pos + 8 + length > png.Length && ImagePngImageData.HoldsAllRows(png, (int)first, (int)pos))
            {
                return $"its IDAT chunk at byte {pos}, after the chunks that hold every row, runs past the end of the data (Pillow: Truncated File Read)";
            }

            pos += 12 + length;
        }

        long end = ImagePngChunkRules.FirstFrameEnd(png); // an animated PNG's next fcTL: load_end reads no further
        for (; pos + 8 <= png.Length && pos < end; pos += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]))
        {
            var type = png.Slice((int)pos + 4, 4);
            if (!IsChunkType(type) || type.SequenceEqual("IEND"u8))
            {
                return null;
            }

            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (pos + 8 + length > png.Length)
            {
                return $"its {System.Text.Encoding.ASCII.GetString(type)} chunk at byte {pos}, after the image data, runs past the end of the data (Pillow: Truncated File Read)";
            }

            if (UnknownTextCompression(type, png.Slice((int)pos + 8, (int)length)))
            {
                return $"its zTXt chunk at byte {pos} names a compression method other than 0 (Pillow: SyntaxError)";
            }
        }

        return null;
    }

    /// <summary>
    /// The data with every IDAT chunk's CRC made right, or null when all are (or it is not a PNG): Pillow never checks
    /// an IDAT's CRC, libpng refuses a wrong one.
    /// </summary>
    public static byte[]? MendImageDataCrcs(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _))
        {
            return null;
        }

        byte[]? mended = null;
        for (long pos = 8; pos + 8 <= png.Length;)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (pos + 12 + length > png.Length) break;
            if (png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8))
            {
                uint crc = Crc32.HashToUInt32(png.Slice((int)pos + 4, 4 + (int)length));
                if (crc != BinaryPrimitives.ReadUInt32BigEndian(png[(int)(pos + 8 + length)..]))
                {
                    mended ??= png.ToArray();
                    BinaryPrimitives.WriteUInt32BigEndian(mended.AsSpan((int)(pos + 8 + length)), crc);
                }
            }

            pos += 12 + length;
        }

        return mended;
    }

    /// <summary>
    /// The data cut after its run of IDAT chunks and ended with a whole IEND, or null, where libpng, reading on past the
    /// pixels, would refuse ("ErrorInInput") what Pillow's load_end reads: a later IHDR, which Pillow reads as any chunk
    /// (ImagePngChunkRules judges its body), a critical chunk type libpng does not know, or a PLTE or a type with the
    /// reserved bit set that WithoutChunksSkiaRefuses left (before a later IDAT; Pillow skips them), or a damaged
    /// header, which load_end reads or stops at without a complaint: a chunk type that is not four letters (one of word
    /// characters Pillow skips; at another it stops: SyntaxError, caught), a length over 2^31 - 1 (libpng: out of
    /// range; Pillow stops at an animated PNG's next fcTL before its length matters), or an IEND whose length or CRC is
    /// not a whole IEND's (Pillow stops at the type alone). Except for an IHDR, the IDAT chunks must hold every row, or
    /// the pixel decoder judges the file as it is. libpng reads every chunk header up to IEND, also past the next
    /// frame's fcTL, where load_end stops. The chunks dropped
    /// never change Pillow's pixels: load_end runs after the image is decoded, and what it refuses BrokenTail and
    /// ImagePngChunkRules have refused before; the orientation is read from the file as given.
    /// Hand-written: Skia cannot be told to stop at the image data.
    /// </summary>
    public static byte[]? EndWherePillowStops(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _) || ImageData(png) is not { } first)
        {
            return null;
        }

        long pos = first;
        while (pos + 12 <= png.Length && png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8))
        {
            pos += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
        }

        if (pos > png.Length)
        {
            return null; // the last IDAT is cut: the pixel decoder's to judge
        }

        for (long at = pos; at + 8 <= png.Length; at += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)at..]))
        {
            var type = png.Slice((int)at + 4, 4);
            bool damaged = !IsLetters(type) || UnknownCritical(type) || IsReserved(type) || type.SequenceEqual("PLTE"u8)
                || BinaryPrimitives.ReadUInt32BigEndian(png[(int)at..]) > int.MaxValue
                || (type.SequenceEqual("IEND"u8) && !png[(int)at..].StartsWith(WholeEnd));
            if (type.SequenceEqual("IHDR"u8)
                || (damaged && ImagePngImageData.HoldsAllRows(png, (int)first, (int)pos)))
            {
                return [.. png[..(int)pos], .. WholeEnd];
            }

            if (damaged || type.SequenceEqual("IEND"u8))
            {
                return null;
            }
        }

        return null;
    }

    // libpng's chunk name check: four ASCII letters (Pillow's is_cid also takes digits and '_', and reads on past them).
    private static bool IsLetters(ReadOnlySpan<byte> type) =>
        char.IsAsciiLetter((char)type[0]) && char.IsAsciiLetter((char)type[1]) && char.IsAsciiLetter((char)type[2]) && char.IsAsciiLetter((char)type[3]);

    // A chunk type whose third letter is lower case: the reserved bit of the PNG specification is set.
    private static bool IsReserved(ReadOnlySpan<byte> type) => (type[2] & 0x20) != 0;

    // A chunk type whose first letter is upper case (critical) and that libpng does not know: it refuses the file,
    // Pillow skips the chunk as it skips any it has no handler for.
    private static bool UnknownCritical(ReadOnlySpan<byte> type) =>
        char.IsAsciiLetterUpper((char)type[0]) && !type.SequenceEqual("IHDR"u8) && !type.SequenceEqual("PLTE"u8)
        && !type.SequenceEqual("IDAT"u8) && !type.SequenceEqual("IEND"u8);

    // An IEND chunk as the PNG specification writes it: no body, and the CRC of its type.
    private static ReadOnlySpan<byte> WholeEnd =>
        [0, 0, 0, 0, (byte)'I', (byte)'E', (byte)'N', (byte)'D', 0xAE, 0x42, 0x60, 0x82];

    /// <summary>
    /// The data without the chunks that Pillow reads past without using them for the pixels but Skia refuses, or null
    /// where there are none: a chunk whose type has the reserved bit set (a lower-case third letter; Skia refuses it
    /// anywhere but straight after the image data, before it too), and every PLTE but the last before the image data
    /// of a palette image (chunk_PLTE keeps the last; libpng refuses a second one, also after the image data), or every
    /// PLTE of an image of another colour type (Pillow never maps its pixels through a palette). Pillow's _open checks
    /// such a chunk's CRC before the image data (BrokenHeader); load_end reads on after it. None is dropped between
    /// IDAT chunks, which would join two runs of image data (EndWherePillowStops cuts after the first run there), nor
    /// after a chunk whose body is cut. Hand-written: Skia cannot be told to skip a chunk.
    /// </summary>
    public static byte[]? WithoutChunksSkiaRefuses(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out var header) || ImageData(png) is not { } first)
        {
            return null;
        }

        List<byte>? output = null;
        long pos = 8, kept = 0, lastPalette = header.ColorType == 3 ? LastPaletteBefore(png, first) : -1;   // png[kept..pos] is still to be copied
        bool idatLater = true;
        while (pos + 8 <= png.Length)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            var type = png.Slice((int)pos + 4, 4);
            if (length > int.MaxValue || pos + 8 + length > png.Length || !IsLetters(type)) break;    // a CRC may be cut
            if (pos > first && idatLater) idatLater = ImageDataFollows(png, pos);
            bool palette = type.SequenceEqual("PLTE"u8) && pos != lastPalette;
            bool drop = (pos < first || !idatLater) && (IsReserved(type) || palette);
            if (drop)
            {
                output ??= new List<byte>(png.Length);
                output.AddRange(png[(int)kept..(int)pos]);
                kept = Math.Min(pos + 12 + length, png.Length);
            }

            pos += 12 + length;
        }

        if (output is null) return null;
        output.AddRange(png[(int)kept..]);
        return [.. output];
    }

    // Where the last PLTE before the image data starts (Pillow's chunk_PLTE keeps the last), -1 where there is none.
    private static long LastPaletteBefore(ReadOnlySpan<byte> png, long first)
    {
        long last = -1;
        for (long pos = 8; pos < first; pos += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]))
        {
            if (png.Slice((int)pos + 4, 4).SequenceEqual("PLTE"u8)) last = pos;
        }

        return last;
    }

    // Whether an IDAT chunk comes at or after `pos`, walking whole chunks.
    private static bool ImageDataFollows(ReadOnlySpan<byte> png, long pos)
    {
        for (; pos + 12 <= png.Length; pos += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]))
        {
            if (png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8)) return true;
            if (BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]) > int.MaxValue) return true;   // not walked on
        }

        return false;
    }

    /// <summary>
    /// The data with its first run of fdAT chunks rewritten as IDAT chunks (sequence number dropped, CRC made right), or
    /// null: only where an fdAT comes before any IDAT. Pillow's _open stops at the first IDAT or fdAT and decodes that
    /// run as the image; libpng, knowing no APNG chunks, finds no image data. Hand-written.
    /// </summary>
    public static byte[]? FrameDataAsImageData(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _)) return null;
        long pos = 8;
        while (pos + 12 <= png.Length && !png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8) && !png.Slice((int)pos + 4, 4).SequenceEqual("fdAT"u8))
        {
            pos += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
        }

        var output = new List<byte>(png.Length);
        output.AddRange(png[..(int)Math.Min(pos, png.Length)]);
        for (long length; pos + 12 <= png.Length && png.Slice((int)pos + 4, 4).SequenceEqual("fdAT"u8); pos += 12 + length)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (length < 4 || pos + 12 + length > png.Length) return null; // ImagePngChunkRules / BrokenTail judge it
            output.AddRange(Chunk("IDAT"u8, png.Slice((int)pos + 12, (int)length - 4)));
        }

        if (output.Count == Math.Min(pos, png.Length)) return null; // no fdAT first
        output.AddRange(png[(int)Math.Min(pos, png.Length)..]);
        return [.. output];
    }

    /// <summary>A whole chunk of <paramref name="type"/> holding <paramref name="body"/>: length, type, body, CRC.</summary>
    internal static byte[] Chunk(ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        var chunk = new byte[12 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, body.Length);
        type.CopyTo(chunk.AsSpan(4));
        body.CopyTo(chunk.AsSpan(8));
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + body.Length), Crc32.HashToUInt32(chunk.AsSpan(4, 4 + body.Length)));
        return chunk;
    }

    /// <summary>Where the first IDAT chunk starts; null when there is none (or the chunks before it are not whole).</summary>
    internal static long? ImageData(ReadOnlySpan<byte> png)
    {
        for (long pos = 8; pos + 8 <= png.Length; pos += 12 + BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]))
        {
            if (png.Slice((int)pos + 4, 4).SequenceEqual("IDAT"u8)) return pos;
        }

        return null;
    }

    // chunk_zTXt: the byte after the keyword's NUL is the compression method (0 when absent); Pillow knows only 0.
    private static bool UnknownTextCompression(ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        int nul = body.IndexOf((byte)0);
        return type.SequenceEqual("zTXt"u8) && nul >= 0 && nul + 1 < body.Length && body[nul + 1] != 0;
    }

    // Pillow's is_cid: re.compile(rb"\w\w\w\w").match on bytes (ASCII letters, digits, underscore).
    internal static bool IsChunkType(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b == (byte)'_'))
            {
                return false;
            }
        }

        return true;
    }
}
