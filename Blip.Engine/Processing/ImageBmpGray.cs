// Uncompressed palette BMPs whose palette Pillow takes for gray, as Pillow gives them. BmpImagePlugin drops a palette
// whose entries are black and white (2 entries) or i, i, i for every index i (any other count), makes the mode "1" or
// "L", and then reads the pixels with that mode's raw layout, 1 or 8 bits a pixel, whatever the file's bit depth: an
// 8-bit bitmap with a black-and-white palette is read as 1-bit rows (the first width/8 bytes of each row), a 4-bit one
// with a gray palette as 8-bit rows, refused where such a row is longer than the file's (RawDecode.c:
// IMAGING_CODEC_CONFIG, "decoder error -8"), and an index past an "L" palette is its own gray level. Skia reads them
// all through the palette.
namespace Blip.Engine.Processing;

/// <summary>Decodes BI_RGB BMPs of 1, 4 or 8 bits whose palette Pillow reads as gray.</summary>
internal static class ImageBmpGray
{
    /// <summary>Whether the file is an uncompressed palette BMP whose palette Pillow takes for gray.</summary>
    public static bool Handles(ReadOnlySpan<byte> bmp, in ImageBmpHeader header) =>
        header.Compression == ImageBmpHeader.Rgb && header.Bits is 1 or 4 or 8 && IsGray(bmp, header);

    /// <summary>The pixels as <c>convert("RGB")</c> gives them; the caller has checked the pixel limit.</summary>
    /// <exception cref="ImageDecodeException">Pillow's mode needs longer rows than the file has, or the data is short.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> bmp, in ImageBmpHeader header, string sourceName)
    {
        int rawBits = header.Colors <= 2 ? 1 : 8; // mode "1" or "L"
        int width = header.Width, height = header.Height;
        long rowBytes = ImageBmpLayout.RowBytes(width, rawBits), stride = ImageBmpLayout.Stride(width, header.Bits);
        if (rowBytes > stride)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is a {header.Bits}-bit BMP with a gray palette, which Pillow reads as mode L with rows of " +
                $"{rowBytes} bytes where the file's rows have {stride}; Pillow refuses it (decoder error -8).");
        }

        long needed = header.PixelOffset + (stride * (height - 1)) + rowBytes;
        if (needed > bmp.Length)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is a truncated BMP: its {width}x{height} pixels need {needed} bytes, the file has {bmp.Length}.");
        }

        var rgb = new byte[(long)width * height * 3];
        for (int y = 0; y < height; y++)
        {
            var row = bmp.Slice((int)(header.PixelOffset + (stride * (header.TopDown ? y : height - 1 - y))), (int)rowBytes);
            var dst = rgb.AsSpan(y * width * 3, width * 3);
            for (int x = 0; x < width; x++)
            {
                byte v = rawBits == 8 ? row[x] : (byte)((row[x >> 3] >> (7 - (x & 7)) & 1) * 255);
                dst[3 * x] = dst[(3 * x) + 1] = dst[(3 * x) + 2] = v;
            }
        }

        return new RgbImage(width, height, rgb);
    }

    /// <summary>Whether Pillow takes the palette for gray. BmpImagePlugin: indices (0, 255) for a 2-entry palette, else
    /// 0 .. colors - 1; entry i must be o8(v) * 3, where o8 keeps the low byte. A palette cut by the end of the file
    /// compares short, so it is not gray.</summary>
    public static bool IsGray(ReadOnlySpan<byte> bmp, in ImageBmpHeader header)
    {
        long colors = header.Colors;
        for (long i = 0; i < colors; i++)
        {
            long at = header.PaletteOffset + (i * header.PaletteEntryBytes);
            if (at + 3 > bmp.Length)
            {
                return false;
            }

            byte v = colors == 2 ? (byte)(i == 0 ? 0 : 255) : (byte)i;
            if (bmp[(int)at] != v || bmp[(int)at + 1] != v || bmp[(int)at + 2] != v)
            {
                return false;
            }
        }

        return true;
    }
}
