// The ICO entry Pillow's IcoImagePlugin opens, as the PNG or BMP file it reads it as. IcoFile reads every directory
// entry (a directory cut short, or one of no entries, is refused), sorts them by colour depth, then stably by area,
// largest first, and opens the first: the largest area, among those the lowest colour depth, among those the first in
// the file. It reads that entry from its offset on to the end of the file, never minding its size field: a PNG entry
// through PngImageFile, so a PNG cut by the file's end is read or refused as that PNG file is; any other through
// DibImageFile, as a BMP's info header with the pixels right after its palette, of half its height (the rest is the AND
// mask), then checks that the mask is there: the 1-bit mask that ends where the entry's size field says, or for an
// entry the directory calls 32-bit the alpha bytes of its pixels. The mask itself is dropped by convert("RGB").
// Skia picks the entry by its own rules, skips one that does not fit in the file and reads its mask, so it came out as
// another image; here the entry Pillow opens is decoded as the PNG file it is or as the BMP file that holds its info
// header and pixels, with every PNG and BMP rule of ImageDecoder applied to it.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Finds the ICO entry Pillow opens and makes the PNG or BMP file Pillow reads it as.</summary>
internal static class ImageIcoEntry
{
    private const int HeaderBytes = 6, EntryBytes = 16, BmpFileHeaderBytes = 14;

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The PNG file (from the entry's offset on) or BMP file (a file header before the entry's info header,
    /// its height halved) that Pillow reads as the ICO's image; null for data that is not an ICO, and for one that
    /// Pillow refuses, with <paramref name="refusal"/> saying why.</summary>
    public static byte[]? Image(ReadOnlySpan<byte> ico, out string? refusal)
    {
        refusal = null;
        if (ico.Length < HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(ico) != 0x0001_0000)
        {
            return null;
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(ico[4..]);
        if (count == 0 || HeaderBytes + ((long)count * EntryBytes) > ico.Length)
        {
            refusal = count == 0
                ? "its directory lists no images"
                : $"its directory of {count} entries needs {HeaderBytes + ((long)count * EntryBytes)} bytes, the file has {ico.Length}";
            return null;
        }

        int index = Chosen(ico, count);
        var entry = Entry(ico, index);
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
        var image = offset < ico.Length ? ico[(int)offset..] : [];
        if (image.StartsWith(PngSignature))
        {
            return image.ToArray();
        }

        var bmp = Bitmap(ico, entry, image, out refusal);
        refusal = refusal is null ? null : $"its image (entry {index}, at byte {offset}) {refusal}";
        return bmp;
    }

    // The BMP file of a DIB entry, or null with the reason Pillow refuses it.
    private static byte[]? Bitmap(ReadOnlySpan<byte> ico, ReadOnlySpan<byte> entry, ReadOnlySpan<byte> dib, out string? refusal)
    {
        long entryOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
        var bmp = BitmapFile(dib, entryOffset, halve: true, out var header, out refusal);
        if (bmp is null)
        {
            return null;
        }

        long pixels = Math.Min(header.PixelOffset - BmpFileHeaderBytes, dib.Length); // from the entry's offset
        refusal = MissingMask(ico, entry, header.Width, header.Height / 2, entryOffset + pixels);
        return refusal is null ? bmp : null;
    }

    /// <summary>The BMP file Pillow's reader reads as the info header at <paramref name="at"/> in an ICO or CUR file
    /// and the pixels right after its palette, with int(height / 2) rows where <paramref name="halve"/> (the XOR image;
    /// the rest is the AND mask); null with Pillow's refusal of the info header. <paramref name="header"/> is the
    /// header as read, before halving.</summary>
    public static byte[]? BitmapFile(ReadOnlySpan<byte> dib, long at, bool halve, out ImageBmpHeader header, out string? refusal)
    {
        var bmp = new byte[BmpFileHeaderBytes + dib.Length];
        (bmp[0], bmp[1]) = ((byte)'B', (byte)'M');
        BinaryPrimitives.WriteUInt32LittleEndian(bmp.AsSpan(2), (uint)bmp.Length);
        dib.CopyTo(bmp.AsSpan(BmpFileHeaderBytes)); // a pixel offset of 0: Pillow's BMP reader then reads on after the palette, as DibImageFile does
        refusal = ImageBmpHeader.HeaderRefusal(bmp);
        if (refusal is not null || !ImageBmpHeader.TryRead(bmp, out header))
        {
            header = default;
            refusal = refusal is null ? "has no whole BMP info header" : $"is a BMP that Pillow refuses: {refusal}";
            return null;
        }

        long height = halve ? header.Height / 2 : header.Height;
        var info = bmp.AsSpan(BmpFileHeaderBytes);
        if (BinaryPrimitives.ReadInt32LittleEndian(info) == 12)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(info[6..], (ushort)height);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(info[8..], unchecked((uint)(header.TopDown ? (1L << 32) - height : height)));
        }

        // Pillow's RLE decoder aligns to words counted from the start of the ICO file: an entry at an odd offset gets
        // a byte before its pixels, which then start at an explicit offset of the same parity.
        long pixels = Math.Min(header.PixelOffset - BmpFileHeaderBytes, dib.Length);
        return header.Compression is ImageBmpHeader.Rle8 or ImageBmpHeader.Rle4 && (at & 1) == 1
            ? Shifted(bmp, BmpFileHeaderBytes + (int)pixels)
            : bmp;
    }

    // Why the AND mask (or a 32-bit entry's alpha bytes) that IcoFile reads before the pixels is not all in the file.
    private static string? MissingMask(ReadOnlySpan<byte> ico, ReadOnlySpan<byte> entry, long width, long height, long pixelStart)
    {
        if (BinaryPrimitives.ReadUInt16LittleEndian(entry[6..]) == 32)
        {
            long alpha = 4 * width * height; // every fourth byte of the pixels, read from where they start
            return ico.Length - pixelStart < alpha
                ? $"is 32-bit in the directory, and its {alpha} bytes of pixels and alpha from byte {pixelStart} pass the end of the file ({ico.Length} bytes)"
                : null;
        }

        // Rows of whole 32-bit words, read from the entry's end back; the raw decoder does without the last row's padding.
        long stride = (width + 31) / 32 * 4, end = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]) + (long)BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]);
        long start = end - (stride * height), needed = width == 0 || height == 0 ? 0 : (stride * (height - 1)) + ((width + 7) / 8);
        return start < 0
            ? $"has its {stride * height}-byte AND mask start before the file's start (its offset plus its size is {end})"
            : start + needed > ico.Length
                ? $"has its AND mask at bytes {start} to {start + needed} (its offset plus its size, less {stride * height}), past the end of the file ({ico.Length} bytes)"
                : null;
    }

    // The BMP with one byte put in before its pixels, which start at an explicit pixel offset.
    private static byte[] Shifted(byte[] bmp, int pixels)
    {
        var shifted = new byte[bmp.Length + 1];
        bmp.AsSpan(0, pixels).CopyTo(shifted);
        bmp.AsSpan(pixels).CopyTo(shifted.AsSpan(pixels + 1));
        BinaryPrimitives.WriteUInt32LittleEndian(shifted.AsSpan(2), (uint)shifted.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(shifted.AsSpan(10), (uint)(pixels + 1));
        return shifted;
    }

    private static ReadOnlySpan<byte> Entry(ReadOnlySpan<byte> ico, int index) => ico.Slice(HeaderBytes + (index * EntryBytes), EntryBytes);

    // The index of the directory entry IcoFile opens: its entry[0] after the two sorts.
    private static int Chosen(ReadOnlySpan<byte> ico, int count)
    {
        int best = 0;
        (long Square, int Depth) bestKey = (-1, -1);
        for (int i = 0; i < count; i++)
        {
            var e = Entry(ico, i);
            long square = (e[0] == 0 ? 256 : e[0]) * (long)(e[1] == 0 ? 256 : e[1]);
            int bpp = BinaryPrimitives.ReadUInt16LittleEndian(e[6..]);
            int depth = bpp != 0 ? bpp : e[2] != 0 ? (int)Math.Ceiling(Math.Log2(e[2])) : 256;
            if (depth == 0)
            {
                depth = 256; // Pillow's "or 256" also catches a 1-colour palette (log2(1) = 0)
            }

            if (square > bestKey.Square || (square == bestKey.Square && depth < bestKey.Depth))
            {
                (best, bestKey) = (i, (square, depth));
            }
        }

        return best;
    }
}
