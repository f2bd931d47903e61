// GIF pixels that Skia leaves transparent, as PIL gives them. PIL opens a GIF as mode P and convert("RGB")
// looks the transparent index up in the palette like any other; where the first frame does not cover the
// screen, PIL's canvas holds the transparent index, or index 0 when there is none (GifImagePlugin's
// load_prepare fills with the one; a new image holds zeros). Skia writes both as transparent black. Reads
// the first frame's transparent index and colour table (GIF89a specification, sections 18–23).
namespace Blip.Engine.Processing;

/// <summary>Finds the RGB colour that PIL shows where a GIF's first frame is transparent or absent.</summary>
internal static class ImageGifTransparency
{
    /// <summary>
    /// The colour, in the first frame's palette, of its transparent index, or of index 0 when it has none;
    /// null when that index is outside the palette (PIL shows black, as Skia).
    /// </summary>
    public static (byte R, byte G, byte B)? FillColour(ReadOnlySpan<byte> gif)
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

        int fill = 0;
        while (pos < gif.Length)
        {
            if (gif[pos] == 0x21 && pos + 1 < gif.Length) // extension: label, then sub-blocks
            {
                if (gif[pos + 1] == 0xF9 && pos + 6 < gif.Length && (gif[pos + 3] & 1) != 0)
                {
                    fill = gif[pos + 6]; // graphic control: packed, delay (2), transparent index
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

        return (3 * fill) + 2 < palette.Length ? (palette[3 * fill], palette[(3 * fill) + 1], palette[(3 * fill) + 2]) : null;
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
