// RLE-compressed BMPs as PIL gives them. An RLE8/RLE4 bitmap may leave pixels unwritten (an end of line
// before the row is full, a delta jump, an end of bitmap before the last row); Pillow's BmpRleDecoder
// writes index 0 there, so convert("RGB") shows palette entry 0, while Skia leaves them transparent
// black. Reads that entry (BITMAPINFOHEADER and its successors: the palette follows the header).
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Finds the colour PIL shows for the pixels an RLE BMP leaves unwritten.</summary>
internal static class ImageBmpRle
{
    private const int FileHeaderSize = 14;

    /// <summary>Palette entry 0 of an RLE8 or RLE4 BMP, or null for any other file.</summary>
    public static (byte R, byte G, byte B)? FillColour(ReadOnlySpan<byte> bmp)
    {
        if (bmp.Length < FileHeaderSize + 40 || bmp[0] != (byte)'B' || bmp[1] != (byte)'M')
        {
            return null;
        }

        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(bmp[FileHeaderSize..]);
        int compression = BinaryPrimitives.ReadInt32LittleEndian(bmp[(FileHeaderSize + 16)..]);
        int palette = FileHeaderSize + headerSize;
        return headerSize is 40 or 52 or 56 or 64 or 108 or 124 && compression is 1 or 2 && palette + 3 <= bmp.Length
            ? (bmp[palette + 2], bmp[palette + 1], bmp[palette]) // entries are B, G, R, reserved
            : null;
    }
}
