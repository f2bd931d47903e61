// An APNG (or PNG) whose last fcTL before the image data names a frame smaller than the image: Pillow 13's chunk_IDAT
// makes that frame box the zip decoder's tile, so the IDAT rows (of the frame's size) fill only that region of a canvas
// that Image.core.new left zero; convert("RGB") shows the zeros as black, or as palette entry 0 in mode P. The first
// frame's dispose and blend ops change nothing (there is no previous frame). libpng knows no frames and reads the rows
// at the IHDR's size, so the frame is given to Skia as a PNG of its own (the IHDR resized, the fcTL/acTL dropped) and
// placed on the canvas here. Hand-written.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Decodes an APNG's first frame into its region of the image, as Pillow does.</summary>
internal static class ImagePngFirstFrame
{
    /// <summary>A PNG of the frame alone: the IHDR with the frame's size, the chunks before the image data but acTL and
    /// fcTL, the run of IDAT chunks, IEND.</summary>
    public static byte[] Extract(ReadOnlySpan<byte> png, ImagePngFrameBox box)
    {
        var output = new List<byte>(png.Length);
        output.AddRange(png[..8]);
        var ihdr = png.Slice(16, 13).ToArray();
        BinaryPrimitives.WriteInt32BigEndian(ihdr, box.Width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), box.Height);
        output.AddRange(ImagePngChunks.Chunk("IHDR"u8, ihdr));
        bool inImageData = false;
        for (long pos = 33, length; pos + 8 <= png.Length; pos += 12 + length)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            var type = png.Slice((int)pos + 4, 4);
            bool imageData = type.SequenceEqual("IDAT"u8);
            if (inImageData && !imageData) break;
            inImageData |= imageData;
            if (type.SequenceEqual("acTL"u8) || type.SequenceEqual("fcTL"u8)) continue;
            output.AddRange(png[(int)pos..(int)Math.Min(png.Length, pos + 12 + length)]); // a cut IDAT stays cut: Skia judges it
        }

        output.AddRange(ImagePngChunks.Chunk("IEND"u8, []));
        return [.. output];
    }

    /// <summary>The <paramref name="width"/> x <paramref name="height"/> image with <paramref name="frame"/> at the box
    /// and the colour of a zero pixel elsewhere. An interlaced frame goes to the top left corner: Pillow's ZipDecode
    /// writes Adam7 rows at the pass's own row and column, leaving out the tile's offset.</summary>
    public static RgbImage Place(RgbImage frame, ImagePngFrameBox box, int width, int height, (byte R, byte G, byte B) fill, bool interlaced)
    {
        if (interlaced) box = box with { X = 0, Y = 0 };
        var rgb = new byte[(long)width * height * 3];
        for (int i = 0; i < rgb.Length; i += 3) (rgb[i], rgb[i + 1], rgb[i + 2]) = fill;
        var pixels = frame.Pixels.Span;
        for (int y = 0; y < box.Height; y++)
        {
            pixels.Slice(y * box.Width * 3, box.Width * 3).CopyTo(rgb.AsSpan((int)(((long)(box.Y + y) * width + box.X) * 3)));
        }

        return new RgbImage(width, height, rgb);
    }

    /// <summary>What a zero pixel becomes under convert("RGB"): palette entry 0 for a palette image (colour type 3),
    /// black otherwise.</summary>
    public static (byte R, byte G, byte B) ZeroColour(ReadOnlySpan<byte> png)
    {
        if (png[25] != 3) return (0, 0, 0);
        for (long pos = 8, length; pos + 8 <= png.Length; pos += 12 + length)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (png.Slice((int)pos + 4, 4).SequenceEqual("PLTE"u8) && length >= 3 && pos + 11 <= png.Length)
                return (png[(int)pos + 8], png[(int)pos + 9], png[(int)pos + 10]);
        }

        return (0, 0, 0);
    }
}
