// A GIF that ends right after a whole data sub-block of an image, with neither the block terminator nor the trailer:
// Pillow's GifImagePlugin decodes the frame from the sub-blocks there are, Skia reports it incomplete. The terminator
// is put back, after which Skia decodes it as it decodes a GIF without its trailer (as Pillow does). A file cut inside
// a sub-block is left as it is (both refuse it). Walked from the GIF89a specification (sections 17–27).
namespace Blip.Engine.Processing;

/// <summary>Restores the block terminator of a GIF whose last image's data stops at a sub-block boundary.</summary>
internal static class ImageGifBlocks
{
    /// <summary>The data with a 0 byte appended, or null when it needs none (or is not a GIF).</summary>
    public static byte[]? MendMissingTerminator(ReadOnlySpan<byte> gif)
    {
        if (gif.Length < 13 || !gif[..3].SequenceEqual("GIF"u8))
        {
            return null;
        }

        long pos = 13 + ColourTable(gif[10]);
        while (pos < gif.Length)
        {
            byte block = gif[(int)pos];
            if (block == 0x3B) return null;                               // trailer
            bool image = block == 0x2C;
            if (image)
            {
                if (pos + 10 > gif.Length) return null;
                pos += 10 + ColourTable(gif[(int)pos + 9]) + 1;           // descriptor, local table, LZW code size
            }
            else if (block == 0x21)
            {
                pos += 2;                                                 // introducer, label
            }
            else
            {
                return null;
            }

            while (pos < gif.Length && gif[(int)pos] != 0)
            {
                pos += 1 + gif[(int)pos];                                 // a data sub-block
            }

            if (pos == gif.Length && image)
            {
                return [.. gif, 0];
            }

            pos++;                                                        // the block terminator
        }

        return null;
    }

    private static long ColourTable(byte packed) => (packed & 0x80) != 0 ? 3L << ((packed & 7) + 1) : 0;
}
