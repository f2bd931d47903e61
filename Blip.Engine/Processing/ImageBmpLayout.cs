// The BMPs that Skia and Pillow's BmpImagePlugin read differently, other than the ones decoded by hand (16-bit, RLE and
// gray-palette ones: ImageBmp16, ImageBmpRle, ImageBmpGray): Pillow refuses 2-bit pixels, compressions other than BI_RGB,
// RLE and BI_BITFIELDS, palettes of more than 65536 entries, and every bit-field layout but a few byte-aligned ones, all of
// which Skia decodes; it reads 32-bit bit fields that are all zero as BGRA, where Skia gives black; and its raw decoder
// does without the last row's padding, which Skia wants ("incomplete input").
namespace Blip.Engine.Processing;

/// <summary>Refuses the BMP layouts Pillow refuses, and pads a BMP whose data stops inside its last row's padding.</summary>
internal static class ImageBmpLayout
{
    // BmpImagePlugin's SUPPORTED bit fields: (R, G, B, A) masks at 32 bits, (R, G, B) at 24 (16 bits: ImageBmp16).
    private static readonly (uint R, uint G, uint B, uint A)[] Supported32 =
    [
        (0xFF0000, 0xFF00, 0xFF, 0x0), (0xFF000000, 0xFF0000, 0xFF00, 0x0), (0xFF000000, 0xFF00, 0xFF, 0x0),
        (0xFF000000, 0xFF0000, 0xFF00, 0xFF), (0xFF, 0xFF00, 0xFF0000, 0xFF000000), (0xFF0000, 0xFF00, 0xFF, 0xFF000000),
        (0xFF000000, 0xFF00, 0xFF, 0xFF0000), (0x0, 0x0, 0x0, 0x0),
    ];

    /// <summary>Why Pillow refuses the bitmap (its message), or null when it reads it.</summary>
    public static string? Refusal(in ImageBmpHeader header)
    {
        if (header.Bits is not (1 or 4 or 8 or 16 or 24 or 32))
        {
            return $"Unsupported BMP pixel depth ({header.Bits})";
        }

        if (header.Compression is not (ImageBmpHeader.Rgb or ImageBmpHeader.Rle8 or ImageBmpHeader.Rle4 or ImageBmpHeader.Bitfields))
        {
            return $"Unsupported BMP compression ({header.Compression})";
        }

        if (header.Bits <= 8 && header.Colors is < 1 or > 65536)
        {
            return $"Unsupported BMP Palette size ({header.Colors})";
        }

        bool layoutRead = header.Compression != ImageBmpHeader.Bitfields || header.Bits switch
        {
            32 => Array.IndexOf(Supported32, (header.Masks.R, header.Masks.G, header.Masks.B, header.AlphaMask)) >= 0,
            24 => header.Masks == (0xFF0000, 0xFF00, 0xFF),
            16 => true, // ImageBmp16 refuses the layouts Pillow refuses
            _ => false,
        };
        return layoutRead ? null : "Unsupported BMP bitfields layout";
    }

    /// <summary>
    /// Pillow's refusal of a palette of more than 256 entries that it keeps as a palette (one it takes for gray becomes
    /// mode "L" and is read): convert("RGB") raises "invalid palette size" on it, for every compression. The entries
    /// counted are those in the bytes read (a palette cut by the end of the file has fewer), so the file is checked
    /// before ImageBmpPalette completes it. Null otherwise.
    /// </summary>
    public static string? PaletteRefusal(ReadOnlySpan<byte> bmp)
    {
        if (!ImageBmpHeader.TryRead(bmp, out var header) || header.Bits > 8 || header.Colors <= 256)
        {
            return null;
        }

        long read = Math.Min(header.Colors * header.PaletteEntryBytes, Math.Max(0, bmp.Length - header.PaletteOffset));
        return read / header.PaletteEntryBytes > 256 && !ImageBmpGray.IsGray(bmp, header)
            ? $"a palette of {read / header.PaletteEntryBytes} entries, more than 256 (invalid palette size)"
            : null;
    }

    /// <summary>
    /// The file as Skia should read it to give Pillow's pixels, or null when it reads the file as it is: all-zero 32-bit bit
    /// fields become BI_RGB (Pillow's BGRA, whose alpha convert("RGB") drops), and pixel data that stops inside the last
    /// row's padding gets zeros up to the end of it.
    /// </summary>
    public static byte[]? Mend(ReadOnlySpan<byte> bmp, in ImageBmpHeader header)
    {
        bool zeroMasks = header.Bits == 32 && header.Compression == ImageBmpHeader.Bitfields && header.Masks == (0, 0, 0) && header.AlphaMask == 0;
        long missing = MissingPadding(bmp, header);
        if (!zeroMasks && missing == 0)
        {
            return null;
        }

        byte[] mended = [.. bmp, .. new byte[missing]];
        if (zeroMasks)
        {
            mended[CompressionOffset] = ImageBmpHeader.Rgb; // the little-endian 3 becomes 0
        }

        return mended;
    }

    // The bytes of the last row's padding that the data lacks, when it lacks nothing more (Pillow then reads it).
    private static long MissingPadding(ReadOnlySpan<byte> bmp, in ImageBmpHeader header)
    {
        if (header.Compression is not (ImageBmpHeader.Rgb or ImageBmpHeader.Bitfields) || header.Width <= 0 || header.Height <= 0)
        {
            return 0;
        }

        long stride = Stride(header.Width, header.Bits);
        long full = header.PixelOffset + (stride * header.Height);
        long needed = full - stride + RowBytes(header.Width, header.Bits);
        return bmp.Length >= needed && bmp.Length < full && full <= Array.MaxLength ? full - bmp.Length : 0;
    }

    /// <summary>The bytes of a row's pixels, without padding.</summary>
    public static long RowBytes(int width, int bits) => ((width * (long)bits) + 7) / 8;

    /// <summary>The bytes from one stored row to the next: the pixels padded to a multiple of 4.</summary>
    public static long Stride(int width, int bits) => ((width * (long)bits) + 31) / 32 * 4;

    private const int CompressionOffset = 14 + 16; // biCompression in the info header
}
