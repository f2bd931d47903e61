// A GIF that ends right after a whole data sub-block of an image, with neither the block terminator nor the trailer:
// Pillow's GifImagePlugin decodes the frame from the sub-blocks there are, Skia reports it incomplete. The terminator
// is put back, after which Skia decodes it as it decodes a GIF without its trailer (as Pillow does). A file cut inside
// a sub-block is left as it is (both refuse it). Also Pillow's refusal of a first image 0 wide or high. Walked from
// the GIF89a specification (sections 17–27).
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Restores the block terminator of a GIF whose last image's data stops at a sub-block boundary, and finds a
/// first image Pillow refuses.</summary>
internal static class ImageGifBlocks
{
    /// <summary>The data with a 0 byte appended, or null when it needs none (or is not a GIF).</summary>
    public static byte[]? MendMissingTerminator(ReadOnlySpan<byte> gif)
    {
        if (!IsGif(gif))
        {
            return null;
        }

        for (long pos = 13 + ColourTable(gif[10]); pos < gif.Length; pos++) // pos++: the block terminator
        {
            bool image = gif[(int)pos] == 0x2C;
            if (BlockData(gif, pos) is not { } data)
            {
                return null;
            }

            pos = SkipSubBlocks(gif, data);
            if (pos == gif.Length && image)
            {
                return [.. gif, 0];
            }
        }

        return null;
    }

    /// <summary>Pillow's refusal of a GIF whose first image is 0 wide or 0 high (its decoder's tile check: "tile cannot
    /// extend outside image"; Skia decodes such a file), or null. The blocks are walked as the specification lays them
    /// out; where Pillow would skip a stray byte this walk stops and Skia judges the file.</summary>
    public static string? EmptyFirstImage(ReadOnlySpan<byte> gif)
    {
        if (!IsGif(gif))
        {
            return null;
        }

        for (long pos = 13 + ColourTable(gif[10]); pos < gif.Length; pos++)
        {
            if (gif[(int)pos] == 0x2C && pos + 10 <= gif.Length)
            {
                int width = BinaryPrimitives.ReadUInt16LittleEndian(gif[(int)(pos + 5)..]);
                int height = BinaryPrimitives.ReadUInt16LittleEndian(gif[(int)(pos + 7)..]);
                return width == 0 || height == 0
                    ? $"its first image (byte {pos}) is {width}x{height} (Pillow: tile cannot extend outside image)"
                    : null;
            }

            if (BlockData(gif, pos) is not { } data)
            {
                return null;
            }

            pos = SkipSubBlocks(gif, data);
        }

        return null;
    }

    private static bool IsGif(ReadOnlySpan<byte> gif) => gif.Length >= 13 && gif[..3].SequenceEqual("GIF"u8);

    // Where the data sub-blocks of the block at pos start: after an image descriptor, its local colour table and LZW
    // code size, or after an extension's introducer and label; null at the trailer, a cut descriptor or another byte.
    private static long? BlockData(ReadOnlySpan<byte> gif, long pos) => gif[(int)pos] switch
    {
        0x2C when pos + 10 <= gif.Length => pos + 10 + ColourTable(gif[(int)pos + 9]) + 1,
        0x21 => pos + 2,
        _ => null,
    };

    // Where the block terminator after the data sub-blocks from pos is (the data's length when it has none).
    private static long SkipSubBlocks(ReadOnlySpan<byte> gif, long pos)
    {
        while (pos < gif.Length && gif[(int)pos] != 0)
        {
            pos += 1 + gif[(int)pos];
        }

        return pos;
    }

    private static long ColourTable(byte packed) => (packed & 0x80) != 0 ? 3L << ((packed & 7) + 1) : 0;
}
