// 16-bit BMPs as PIL gives them. Pillow reads BI_RGB as 5-5-5 (rawmode BGR;15) and BI_BITFIELDS only with the
// masks 5-6-5 (BGR;16) or 5-5-5 (BGR;15), refusing any other layout; Unpack.c widens a 5- or 6-bit channel v to
// v * 255 / 31 (or 63), truncating, where Skia replicates bits, (v << 3) | (v >> 2), which is 1 higher for some v.
// Pillow's raw decoder wants every row but the last one's padding (else "image file is truncated"); Skia also
// wants that padding, so the whole decode is done here.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Decodes 16-bit BI_RGB and BI_BITFIELDS BMPs (Pillow's BmpImagePlugin and Unpack.c).</summary>
internal static class ImageBmp16
{
    private static readonly byte[] Expand5 = [.. Enumerable.Range(0, 32).Select(v => (byte)(v * 255 / 31))];
    private static readonly byte[] Expand6 = [.. Enumerable.Range(0, 64).Select(v => (byte)(v * 255 / 63))];

    /// <summary>Whether the file is one that <see cref="Decode"/> handles (16 bits, BI_RGB or BI_BITFIELDS).</summary>
    public static bool Handles(in ImageBmpHeader header) =>
        header.Bits == 16 && header.Compression is ImageBmpHeader.Rgb or ImageBmpHeader.Bitfields;

    /// <summary>The pixels as <c>convert("RGB")</c> gives them; the caller has checked the pixel limit.</summary>
    /// <exception cref="ImageDecodeException">Masks Pillow refuses, or fewer pixel bytes than the rows need.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> bmp, in ImageBmpHeader header, string sourceName)
    {
        bool is565 = header.Compression == ImageBmpHeader.Bitfields && header.Masks == (0xF800, 0x7E0, 0x1F);
        if (header.Compression == ImageBmpHeader.Bitfields && !is565 && header.Masks != (0x7C00, 0x3E0, 0x1F))
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is a 16-bit BMP with bit fields R {header.Masks.R:X}, G {header.Masks.G:X}, B {header.Masks.B:X}; " +
                "only 5-6-5 (F800, 7E0, 1F) and 5-5-5 (7C00, 3E0, 1F) can be read (Pillow refuses the others too).");
        }

        int width = header.Width, height = header.Height;
        long stride = ((width * 2L) + 3) & ~3L;
        long needed = header.PixelOffset + (stride * (height - 1)) + (width * 2L);
        if (needed > bmp.Length)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is a truncated 16-bit BMP: its {width}x{height} pixels need {needed} bytes, the file has {bmp.Length}.");
        }

        var rgb = new byte[(long)width * height * 3];
        for (int y = 0; y < height; y++)
        {
            var row = bmp.Slice((int)(header.PixelOffset + (stride * (header.TopDown ? y : height - 1 - y))), width * 2);
            var dst = rgb.AsSpan(y * width * 3, width * 3);
            for (int x = 0; x < width; x++)
            {
                int v = BinaryPrimitives.ReadUInt16LittleEndian(row[(2 * x)..]);
                dst[3 * x] = Expand5[(v >> (is565 ? 11 : 10)) & 31];
                dst[(3 * x) + 1] = is565 ? Expand6[(v >> 5) & 63] : Expand5[(v >> 5) & 31];
                dst[(3 * x) + 2] = Expand5[v & 31];
            }
        }

        return new RgbImage(width, height, rgb);
    }
}
