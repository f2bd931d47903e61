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
    private const int MaxColors = 65536;  // Pillow refuses more (ImageBmpLayout.Refusal)

    /// <summary>The file with its palette completed, or null when it holds it whole (or is not such a BMP).</summary>
    public static byte[]? Complete(ReadOnlySpan<byte> bmp)
    {
        if (!ImageBmpHeader.TryRead(bmp, out var header) || header.Compression != ImageBmpHeader.Rgb
            || header.Bits is not (1 or 4 or 8) || header.Colors is < 1 or > MaxColors)
        {
            return null;
        }

        int entry = header.PaletteEntryBytes;
        long paletteOffset = header.PaletteOffset, paletteEnd = paletteOffset + (entry * header.Colors);
        long offset = header.PixelOffset;
        if ((offset >= paletteEnd && bmp.Length >= paletteEnd) || paletteOffset > bmp.Length) // a cut info header is HeaderRefusal's
        {
            return null;
        }

        long available = Math.Max(0, bmp.Length - paletteOffset);
        long whole = Math.Min(header.Colors, available / entry);  // entries whose bytes are all there
        long pixels = Math.Max(0, bmp.Length - offset);
        var mended = new byte[paletteEnd + pixels];
        bmp[..(int)paletteOffset].CopyTo(mended);
        bmp.Slice((int)paletteOffset, (int)(whole * entry)).CopyTo(mended.AsSpan((int)paletteOffset));
        if (pixels > 0) bmp[(int)offset..].CopyTo(mended.AsSpan((int)paletteEnd));
        BinaryPrimitives.WriteUInt32LittleEndian(mended.AsSpan(2), (uint)mended.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(mended.AsSpan(10), (uint)paletteEnd);
        return mended;
    }
}
