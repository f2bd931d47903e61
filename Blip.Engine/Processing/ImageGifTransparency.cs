// GIF transparent pixels as PIL gives them. PIL opens a GIF as mode P and convert("RGB") looks the
// transparent index up in the palette like any other; Skia writes it as transparent black. Reads
// the first frame's transparent index and colour table (GIF89a specification, sections 18–23).
namespace Blip.Engine.Processing;

/// <summary>Finds the RGB colour that PIL shows for the transparent index of a GIF's first frame.</summary>
internal static class ImageGifTransparency
{
    /// <summary>The palette colour of the first frame's transparent index, or null when it has none.</summary>
    public static (byte R, byte G, byte B)? TransparentColour(ReadOnlySpan<byte> gif)
    {
        if (gif.Length < 13 || !gif[..3].SequenceEqual("GIF"u8))
        {
            return null;
        }

        int pos = 13;
        var palette = ReadOnlySpan<byte>.Empty;
        if ((gif[10] & 0x80) != 0) // global colour table
        {
            int size = 3 << ((gif[10] & 7) + 1);
            palette = Slice(gif, pos, size);
            pos += size;
        }

        int transparent = -1;
        while (pos < gif.Length)
        {
            if (gif[pos] == 0x21 && pos + 1 < gif.Length) // extension: label, then sub-blocks
            {
                if (gif[pos + 1] == 0xF9 && pos + 6 < gif.Length && (gif[pos + 3] & 1) != 0)
                {
                    transparent = gif[pos + 6]; // graphic control: packed, delay (2), transparent index
                }

                pos = SkipSubBlocks(gif, pos + 2);
            }
            else if (gif[pos] == 0x2C && pos + 9 < gif.Length) // image descriptor of the first frame
            {
                if ((gif[pos + 9] & 0x80) != 0) // local colour table replaces the global one
                {
                    palette = Slice(gif, pos + 10, 3 << ((gif[pos + 9] & 7) + 1));
                }

                break;
            }
            else
            {
                return null;
            }
        }

        return transparent >= 0 && (3 * transparent) + 2 < palette.Length
            ? (palette[3 * transparent], palette[(3 * transparent) + 1], palette[(3 * transparent) + 2])
            : null;
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> data, int start, int length) =>
        start + length <= data.Length ? data.Slice(start, length) : [];

    private static int SkipSubBlocks(ReadOnlySpan<byte> data, int pos)
    {
        while (pos < data.Length && data[pos] != 0)
        {
            pos += data[pos] + 1;
        }

        return pos + 1;
    }
}
