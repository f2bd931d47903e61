// A BMP whose file header's pixel offset (bfOffBits) is 0 or points inside the info header, its bit-field masks or its
// palette. Pillow's BmpImagePlugin reads the pixels from that offset whatever lies there (header bytes included), from
// where the header, masks or palette ended when it is 0 ("offset or self.fp.tell()"), and after the palette when it
// points at the palette's start; Skia refuses the file or reads the palette as pixels. The file is rewritten with the
// pixels Pillow reads right after the headers (with the parity of their offset), the offset pointing there, and its size field the file's (Skia's RLE
// decoder stops at the size field, which Pillow never reads).
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Moves the pixels of a BMP whose pixel offset is 0 or inside its headers to where Skia looks for them.</summary>
internal static class ImageBmpOffset
{
    private const int SizeField = 2, OffsetField = 10, CoreHeaderEnd = 14 + 40;

    /// <summary>The rewritten file, or null when Skia finds the pixels where Pillow reads them (or the file is cut
    /// before its headers end).</summary>
    public static byte[]? Relocate(ReadOnlySpan<byte> bmp, in ImageBmpHeader header)
    {
        long headerEnd = header.Bits <= 8
            ? header.PaletteOffset + (header.PaletteEntryBytes * header.Colors)
            : header.PaletteOffset + (header.PaletteOffset == CoreHeaderEnd && header.Compression == ImageBmpHeader.Bitfields ? 12 : 0);
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bmp[OffsetField..]);
        bool shortSize = header.Compression is ImageBmpHeader.Rle8 or ImageBmpHeader.Rle4
            && BinaryPrimitives.ReadUInt32LittleEndian(bmp[SizeField..]) < bmp.Length;
        if ((stored == header.PixelOffset && header.PixelOffset >= headerEnd && !shortSize) || headerEnd > bmp.Length || header.PixelOffset > bmp.Length)
        {
            return null;
        }

        // The pixels keep their offset's parity: Pillow's RLE decoder aligns to words counted from the file's start.
        long offset = headerEnd + ((header.PixelOffset - headerEnd) & 1);
        var pixels = bmp[(int)header.PixelOffset..];
        var moved = new byte[offset + pixels.Length];
        bmp[..(int)headerEnd].CopyTo(moved);
        pixels.CopyTo(moved.AsSpan((int)offset));
        BinaryPrimitives.WriteUInt32LittleEndian(moved.AsSpan(SizeField), (uint)moved.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(moved.AsSpan(OffsetField), (uint)offset);
        return moved;
    }
}
