// CUR files (an ICO directory with type 2), as Pillow's CurImagePlugin reads them. It takes the first directory entry,
// and a later one only where both its width and height bytes are larger; reads that entry's info header at its offset
// (or, at an offset of 0, right after the directory) with the pixels after its palette, as a BMP image (a PNG entry is
// no BMP: refused), never minding the entry's size or any AND mask. An image of a colour palette, or RGB, keeps the top
// height // 2 rows of the bitmap (the XOR image). One of a gray palette (mode "1" or "L") is read whole, and then the
// XOR image is pasted onto black through the inverted AND mask (the upper half, as shown): black where the mask is
// set; an odd height is refused there ("tile cannot extend outside image"). Skia reads CUR files as ICO files: its own entry, PNG
// entries, and the mask as transparency.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Finds the CUR entry Pillow opens, makes the BMP file Pillow reads it as, and applies its AND mask.</summary>
internal static class ImageCurEntry
{
    private const int HeaderBytes = 6, EntryBytes = 16;

    /// <summary>The BMP file Pillow reads as the CUR file's image, with <paramref name="masked"/> set where its AND mask
    /// is then applied (<see cref="ApplyMask"/>); null for data that is not a CUR file, and for one that Pillow refuses,
    /// with <paramref name="refusal"/> saying why.</summary>
    public static byte[]? Image(ReadOnlySpan<byte> cur, out string? refusal, out bool masked)
    {
        (refusal, masked) = (null, false);
        if (cur.Length < HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(cur) != 0x0002_0000)
        {
            return null;
        }

        var entry = Chosen(cur, out refusal);
        if (refusal is not null)
        {
            return null;
        }

        long offset = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
        long at = offset != 0 ? offset : Math.Min(cur.Length, HeaderBytes + ((long)EntryBytes * BinaryPrimitives.ReadUInt16LittleEndian(cur[4..])));
        var dib = at < cur.Length ? cur[(int)at..] : [];
        var full = ImageIcoEntry.BitmapFile(dib, at, halve: false, out var header, out refusal);
        if (full is null)
        {
            refusal = $"its cursor (at byte {at}) {refusal}";
            return null;
        }

        masked = header.Bits <= 8 && ImageBmpGray.IsGray(full, header);
        if (masked && header.Height % 2 == 1)
        {
            refusal = $"its cursor (at byte {at}) is gray with an odd height ({header.Height}), whose halves Pillow cannot paste";
            return null;
        }

        return masked ? full : ImageIcoEntry.BitmapFile(dib, at, halve: true, out _, out refusal);
    }

    /// <summary>A gray cursor's XOR image (the lower half of <paramref name="full"/>) where its inverted AND mask (the
    /// upper half) lets it through, black elsewhere: Pillow's paste of L through an L mask onto 0, DIV255(x * (255 - a)).</summary>
    public static RgbImage ApplyMask(RgbImage full)
    {
        int width = full.Width, height = full.Height / 2;
        var pixels = full.Pixels.Span;
        var rgb = new byte[(long)width * height * 3];
        for (int i = 0; i < rgb.Length; i++)
        {
            int product = (pixels[(width * height * 3) + i] * (255 - pixels[i])) + 128;
            rgb[i] = (byte)((product + (product >> 8)) >> 8);
        }

        return new RgbImage(width, height, rgb);
    }

    // The directory entry CurImageFile picks, or null with its refusal: a later entry only where its width and height
    // bytes are both larger. An entry cut by the end of the file is read as far as it goes, as Pillow reads it.
    private static ReadOnlySpan<byte> Chosen(ReadOnlySpan<byte> cur, out string? refusal)
    {
        refusal = null;
        int count = BinaryPrimitives.ReadUInt16LittleEndian(cur[4..]);
        ReadOnlySpan<byte> best = [];
        for (int i = 0; i < count; i++)
        {
            long start = HeaderBytes + ((long)i * EntryBytes);
            var e = start < cur.Length ? cur.Slice((int)start, (int)Math.Min(EntryBytes, cur.Length - start)) : [];
            if (best.IsEmpty)
            {
                best = e;
            }
            else if (e.IsEmpty || (e[0] > best[0] && (e.Length < 2 || best.Length < 2)))
            {
                refusal = $"its directory of {count} entries is cut by the end of the file";
                return [];
            }
            else if (e[0] > best[0] && e[1] > best[1])
            {
                best = e;
            }
        }

        if (best.Length < EntryBytes)
        {
            refusal = best.IsEmpty ? "its directory lists no cursors" : "its cursor's directory entry is cut by the end of the file";
            return [];
        }

        return best;
    }
}
