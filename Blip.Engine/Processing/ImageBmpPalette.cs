// A palette BMP (BI_RGB, 1, 4 or 8 bits) whose palette the file does not hold whole before its pixel data: the pixel
// offset points inside the palette, or the file ends before the palette does. Pillow's BmpImagePlugin reads the palette
// as read(padding × colors) from the end of the info header, whatever follows there (pixel bytes, or fewer bytes at the
// end of the file), and the pixels from the file header's offset: palette entries past the bytes there are black (an
// entry cut short is dropped). Skia refuses such a file ("InvalidInput"). The file is rewritten with the palette Pillow
// reads, padded with zeros to its full length, followed by the pixels from the offset Pillow reads them at. OS/2 1.x
// files (a 12-byte BITMAPCOREHEADER, 3-byte entries, always 2^bits of them) included. Hand-written: no library reads
// BMPs as Pillow does.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Completes a BMP palette that runs into the pixel data or past the end of the file, as Pillow reads it.</summary>
internal static class ImageBmpPalette
{
    private const int FileHeaderSize = 14;
    private const int MaxColors = 65536;  // Pillow refuses more (ImageBmpLayout.Refusal)

    /// <summary>The file with its palette completed, or null when it holds it whole (or is not such a BMP).</summary>
    public static byte[]? Complete(ReadOnlySpan<byte> bmp)
    {
        if (bmp.Length < FileHeaderSize + 4 || bmp[0] != (byte)'B' || bmp[1] != (byte)'M')
        {
            return null;
        }

        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(bmp[FileHeaderSize..]);
        int bits, padding;
        long colors;
        if (headerSize == 12 && bmp.Length >= FileHeaderSize + 12)
        {
            bits = BinaryPrimitives.ReadUInt16LittleEndian(bmp[(FileHeaderSize + 10)..]);
            (padding, colors) = (3, bits <= 16 ? 1L << bits : 0);
        }
        else if (headerSize is 40 or 52 or 56 or 64 or 108 or 124 && bmp.Length >= FileHeaderSize + 40)
        {
            bits = BinaryPrimitives.ReadUInt16LittleEndian(bmp[(FileHeaderSize + 14)..]);
            if (BinaryPrimitives.ReadInt32LittleEndian(bmp[(FileHeaderSize + 16)..]) != 0) return null;  // BI_RGB only
            uint used = BinaryPrimitives.ReadUInt32LittleEndian(bmp[(FileHeaderSize + 32)..]);
            (padding, colors) = (4, used != 0 ? used : 1L << bits);
        }
        else
        {
            return null;
        }

        if (bits is not (1 or 4 or 8) || colors is < 1 or > MaxColors)
        {
            return null;
        }

        long paletteOffset = FileHeaderSize + headerSize;
        long paletteEnd = paletteOffset + (padding * colors);
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(bmp[10..]);
        if (offset == paletteOffset) offset = paletteEnd;  // Pillow skips the palette then
        long available = Math.Max(0, bmp.Length - paletteOffset);
        if (offset == 0) offset = paletteOffset + Math.Min(available, padding * colors);  // read on from there
        if (offset >= paletteEnd && bmp.Length >= paletteEnd)
        {
            return null;
        }

        long whole = Math.Min(colors, available / padding);  // entries whose bytes are all there
        long pixels = Math.Max(0, bmp.Length - offset);
        var mended = new byte[paletteEnd + pixels];
        bmp[..(int)paletteOffset].CopyTo(mended);
        bmp.Slice((int)paletteOffset, (int)(whole * padding)).CopyTo(mended.AsSpan((int)paletteOffset));
        if (pixels > 0) bmp[(int)offset..].CopyTo(mended.AsSpan((int)paletteEnd));
        BinaryPrimitives.WriteUInt32LittleEndian(mended.AsSpan(2), (uint)mended.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(mended.AsSpan(10), (uint)paletteEnd);
        return mended;
    }
}
