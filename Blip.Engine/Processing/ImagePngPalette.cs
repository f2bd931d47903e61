// Palette PNGs whose pixels use indices past the end of their PLTE chunk, as PIL shows them. libpng
// accepts such files; PIL's palette holds black after the file's entries, while Skia repeats the last
// entry. Padding PLTE with black up to the bit depth's 2^n entries (PNG specification, section 11.2.3)
// before Skia reads it gives PIL's colours.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Pads a short PLTE chunk of a colour-type-3 PNG with black entries.</summary>
internal static class ImagePngPalette
{
    private const int PaletteColour = 3;

    /// <summary>
    /// The PNG with its PLTE chunk padded with black to 2^bit-depth entries (at most 256), or null when
    /// <paramref name="png"/> is not a palette PNG with a short PLTE or one whose length is no multiple of 3 (or its
    /// chunks cannot be walked: Skia then reports the damage).
    /// </summary>
    public static byte[]? PadShortPalette(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out var header) || header.ColorType != PaletteColour || header.BitDepth is not (1 or 2 or 4 or 8))
        {
            return null;
        }

        int entries = 1 << header.BitDepth;
        for (int pos = 8; pos + 12 <= png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
            if (length < 0 || pos + 12L + length > png.Length)
            {
                return null;
            }

            var type = png.Slice(pos + 4, 4);
            if (type.SequenceEqual("IDAT"u8))
            {
                return null;
            }

            if (type.SequenceEqual("PLTE"u8))
            {
                // Pillow's palette holds the whole entries of a PLTE whose length is no multiple of 3 (libpng refuses
                // it): the bytes of a last, partial entry are dropped.
                return (length % 3 != 0 || length / 3 < entries) && length / 3 <= entries ? WithPalette(png, pos, length - (length % 3), entries * 3) : null;
            }

            pos += 12 + length;
        }

        return null;
    }

    // The chunk at `pos` (a PLTE whose first `kept` bytes are kept) rewritten with `padded` bytes, zeros after those.
    private static byte[] WithPalette(ReadOnlySpan<byte> png, int pos, int kept, int padded)
    {
        var entries = new byte[padded];
        png.Slice(pos + 8, kept).CopyTo(entries);
        int length = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
        return [.. png[..pos], .. ImagePngChunks.Chunk("PLTE"u8, entries), .. png[(pos + 12 + length)..]];
    }
}
