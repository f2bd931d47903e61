// ICO files whose largest image is cut off. Pillow's IcoFile opens the entry with the largest area (then the highest
// colour depth) and fails when its data is short; Skia skips an entry that does not fit in the file and decodes a
// smaller one, so a cut ICO came out as another, smaller image. Refusing such a file is stricter than Pillow only for a
// PNG entry that lacks no more than its trailing chunks.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Checks that the ICO entry Pillow opens lies inside the file.</summary>
internal static class ImageIcoEntry
{
    private const int HeaderBytes = 6, EntryBytes = 16;

    /// <summary>Why the entry Pillow would open is not whole, or null (also for data that is not an ICO).</summary>
    public static string? Incomplete(ReadOnlySpan<byte> ico)
    {
        if (ico.Length < HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(ico) != 0x0001_0000)
        {
            return null;
        }

        int count = BinaryPrimitives.ReadUInt16LittleEndian(ico[4..]);
        int best = -1;
        (long Square, int Depth) bestKey = (-1, -1);
        for (int i = 0; i < count && HeaderBytes + ((i + 1) * EntryBytes) <= ico.Length; i++)
        {
            var e = ico.Slice(HeaderBytes + (i * EntryBytes), EntryBytes);
            long square = (e[0] == 0 ? 256 : e[0]) * (long)(e[1] == 0 ? 256 : e[1]);
            int bpp = BinaryPrimitives.ReadUInt16LittleEndian(e[6..]);
            int depth = bpp != 0 ? bpp : e[2] != 0 ? (int)Math.Ceiling(Math.Log2(e[2])) : 256;
            if (depth == 0)
            {
                depth = 256; // Pillow's "or 256" also catches a 1-colour palette (log2(1) = 0)
            }

            if (square > bestKey.Square || (square == bestKey.Square && depth > bestKey.Depth))
            {
                (best, bestKey) = (i, (square, depth));
            }
        }

        if (best < 0)
        {
            return null; // no whole directory entry: Skia refuses the file
        }

        var entry = ico.Slice(HeaderBytes + (best * EntryBytes), EntryBytes);
        long end = (long)BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]) + BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]);
        return end > ico.Length ? $"its largest image (entry {best}) needs {end} bytes, the file has {ico.Length}" : null;
    }
}
