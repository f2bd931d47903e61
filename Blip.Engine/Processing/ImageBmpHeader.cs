// The BMP header fields that Pillow's BmpImagePlugin reads, read as it reads them, for the BMPs decoded here
// rather than by Skia (16-bit and RLE ones: ImageBmp16, ImageBmpRle).
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>The file header and BITMAPINFOHEADER (or V2–V5) fields of a BMP, as Pillow reads them.</summary>
/// <param name="Width">Pixels per row.</param>
/// <param name="Height">Rows (positive; <paramref name="TopDown"/> says which way they are stored).</param>
/// <param name="TopDown">The first stored row is the top one (a negative height in the file).</param>
/// <param name="Bits">Bits per pixel.</param>
/// <param name="Compression">0 BI_RGB, 1 BI_RLE8, 2 BI_RLE4, 3 BI_BITFIELDS.</param>
/// <param name="Colors">Palette entries: biClrUsed, or 2^Bits where it is 0.</param>
/// <param name="PaletteOffset">Where the palette starts: right after the info header.</param>
/// <param name="PixelOffset">Where the pixel data starts.</param>
/// <param name="Masks">The red, green and blue masks of a BI_BITFIELDS file (else zeros).</param>
/// <param name="AlphaMask">The alpha mask of a BI_BITFIELDS file with an info header of 56 bytes or more (else 0, as Pillow reads it).</param>
/// <param name="PaletteEntryBytes">Bytes per palette entry: 4 (B, G, R, reserved), 3 in an OS/2 1.x file.</param>
internal readonly record struct ImageBmpHeader(
    int Width, int Height, bool TopDown, int Bits, int Compression, long Colors, int PaletteOffset, long PixelOffset,
    (uint R, uint G, uint B) Masks, uint AlphaMask = 0, int PaletteEntryBytes = 4)
{
    public const int Rgb = 0;
    public const int Rle8 = 1;
    public const int Rle4 = 2;
    public const int Bitfields = 3;

    private const int FileHeaderSize = 14;

    /// <summary>Pillow's refusal of a "BM" file whose info header size is none of those it reads (every "BM" file is a
    /// BMP to Pillow, which raises "Unsupported BMP header type"; Skia reads some of them), or whose info header runs
    /// past the end of the data (its _safe_read raises "Truncated File Read"), or null.</summary>
    public static string? HeaderRefusal(ReadOnlySpan<byte> data)
    {
        if (data.Length < FileHeaderSize + 4 || data[0] != (byte)'B' || data[1] != (byte)'M')
        {
            return null;
        }

        int size = BinaryPrimitives.ReadInt32LittleEndian(data[FileHeaderSize..]);
        if (size is not (12 or 40 or 52 or 56 or 64 or 108 or 124))
        {
            return $"Unsupported BMP header type ({size})";
        }

        return data.Length < FileHeaderSize + size
            ? $"its {size}-byte info header runs past the end of the data at byte {data.Length} (Truncated File Read)"
            : null;
    }

    /// <summary>Reads a "BM" file with an info header of 40, 52, 56, 64, 108 or 124 bytes, or OS/2 1.x's 12.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ImageBmpHeader header)
    {
        header = default;
        if (data.Length < FileHeaderSize + 12 || data[0] != (byte)'B' || data[1] != (byte)'M')
        {
            return false;
        }

        var info = data[FileHeaderSize..];
        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(info);
        if (headerSize == 12)
        {
            return TryReadCore(data, out header);
        }

        if (headerSize is not (40 or 52 or 56 or 64 or 108 or 124) || data.Length < FileHeaderSize + 40)
        {
            return false;
        }

        // Pillow takes the height as top-down when its top byte is FF, the rest as unsigned.
        uint rawHeight = BinaryPrimitives.ReadUInt32LittleEndian(info[8..]);
        bool topDown = info[11] == 0xFF;
        long height = topDown ? (1L << 32) - rawHeight : rawHeight;
        uint width = BinaryPrimitives.ReadUInt32LittleEndian(info[4..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(info[14..]);
        int compression = BinaryPrimitives.ReadInt32LittleEndian(info[16..]);
        uint colors = BinaryPrimitives.ReadUInt32LittleEndian(info[32..]);
        if (width > int.MaxValue || height > int.MaxValue) // a depth Pillow refuses is ImageBmpLayout.Refusal's
        {
            return false;
        }

        // The masks follow a 40-byte header and sit at the same place inside a longer one.
        var masks = data.Length < 66 ? default : (BinaryPrimitives.ReadUInt32LittleEndian(data[54..]), BinaryPrimitives.ReadUInt32LittleEndian(data[58..]),
            BinaryPrimitives.ReadUInt32LittleEndian(data[62..]));
        uint alpha = compression == Bitfields && headerSize >= 56 && data.Length >= 70 ? BinaryPrimitives.ReadUInt32LittleEndian(data[66..]) : 0;
        long paletteColors = colors == 0 ? 1L << bits : colors;
        int paletteOffset = FileHeaderSize + headerSize;
        header = new ImageBmpHeader((int)width, (int)height, topDown, bits, compression, paletteColors, paletteOffset,
            DataOffset(data, paletteOffset, bits, compression, paletteColors, 4), compression == Bitfields ? masks : default, alpha);
        return true;
    }

    // OS/2 1.x (BITMAPCOREHEADER): 16-bit width and height (bottom-up), no compression field (BI_RGB), 2^bits palette
    // entries of 3 bytes.
    private static bool TryReadCore(ReadOnlySpan<byte> data, out ImageBmpHeader header)
    {
        var info = data[FileHeaderSize..];
        int width = BinaryPrimitives.ReadUInt16LittleEndian(info[4..]);
        int height = BinaryPrimitives.ReadUInt16LittleEndian(info[6..]);
        int bits = BinaryPrimitives.ReadUInt16LittleEndian(info[10..]);
        long colors = 1L << bits;
        const int paletteOffset = FileHeaderSize + 12;
        header = new ImageBmpHeader(width, height, false, bits, Rgb, colors, paletteOffset,
            DataOffset(data, paletteOffset, bits, Rgb, colors, 3), default, 0, 3);
        return true;
    }

    // bfOffBits, except that Pillow skips the palette when it points right after the info header, and reads on
    // from where the header (and palette, or the masks after a 40-byte header) ended when it is 0.
    private static long DataOffset(ReadOnlySpan<byte> data, int paletteOffset, int bits, int compression, long colors, int entryBytes)
    {
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(data[10..]);
        long palette = bits <= 8 ? entryBytes * colors : 0;
        if (offset == paletteOffset && bits <= 8)
        {
            return offset + palette;
        }

        return offset != 0 ? offset : paletteOffset + palette + (paletteOffset == 54 && compression == Bitfields ? 12 : 0);
    }
}
