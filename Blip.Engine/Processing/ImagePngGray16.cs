// 16-bit grayscale PNG → RgbImage as PIL gives it: Pillow opens it as mode I;16 and convert("RGB")
// clips each value to 255. Skia reduces such PNGs to 8 bits before any output format, losing the
// low values, so this one case is decoded here from the PNG specification (zlib + row filters +
// Adam7), using .NET's zlib; the caller has already checked the pixel limit.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Blip.Engine.Processing;

/// <summary>Decodes PNGs of colour type 0, bit depth 16 (PNG specification, sections 9 and 8.2).</summary>
internal static class ImagePngGray16
{
    /// <summary>The seven Adam7 passes: first column and row, column and row steps (PNG specification, 8.2).</summary>
    internal static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    public static RgbImage Decode(ReadOnlySpan<byte> png, string sourceName)
    {
        int width = 0, height = 0, interlace = 0;
        using var idat = new MemoryStream();
        for (int pos = 8; pos + 8 <= png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
            var type = png.Slice(pos + 4, 4);
            if (length < 0 || pos + 12L + length > png.Length)
            {
                // Pillow reads an IDAT cut short (or missing its CRC) as far as it goes and needs nothing after the
                // image data: the rows decide.
                if (type.SequenceEqual("IDAT"u8) && length >= 0)
                {
                    idat.Write(png[(pos + 8)..(int)Math.Min(png.Length, pos + 8L + length)]);
                }
                else if (idat.Length == 0)
                {
                    throw Truncated(sourceName);
                }

                break;
            }

            var body = png.Slice(pos + 8, length);
            if (type.SequenceEqual("IHDR"u8))
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                interlace = body[12];
            }
            else if (type.SequenceEqual("IDAT"u8))
            {
                idat.Write(body);
            }
            else if (type.SequenceEqual("IEND"u8))
            {
                break;
            }

            pos += 12 + length;
        }

        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        var rgb = new byte[(long)width * height * 3];
        var passes = interlace == 1 ? Adam7 : [(0, 0, 1, 1)];
        try
        {
            foreach (var (x0, y0, dx, dy) in passes)
            {
                int pw = (width - x0 + dx - 1) / dx, ph = (height - y0 + dy - 1) / dy;
                if (pw > 0 && ph > 0)
                {
                    ReadPass(zlib, pw, ph, (x, y) => (((y0 + (y * dy)) * width) + x0 + (x * dx)) * 3, rgb, sourceName);
                }
            }
        }
        catch (Exception e) when (ImagePngImageData.IsZlibError(e)) // Skia decoded it first, so not expected; never a crash
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a 16-bit gray PNG whose image data does not inflate: {e.Message}", e);
        }

        return new RgbImage(width, height, rgb);
    }

    private static void ReadPass(Stream zlib, int w, int h, Func<int, int, int> offset, byte[] rgb, string sourceName)
    {
        int stride = w * 2;
        var prior = new byte[stride];
        var row = new byte[stride + 1];
        for (int y = 0; y < h; y++)
        {
            try
            {
                zlib.ReadExactly(row);
            }
            catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
            {
                throw new ImageDecodeException($"Image '{sourceName}' is truncated or corrupt (16-bit gray PNG data): {e.Message}", e);
            }

            var cur = row.AsSpan(1);
            Unfilter(row[0], cur, prior, sourceName);
            for (int x = 0; x < w; x++)
            {
                int v = (cur[2 * x] << 8) | cur[(2 * x) + 1];
                int o = offset(x, y);
                rgb[o] = rgb[o + 1] = rgb[o + 2] = (byte)Math.Min(v, 255); // PIL I;16 → RGB clips
            }

            cur.CopyTo(prior);
        }
    }

    // PNG filter types 0–4 with 2 bytes per pixel (specification section 9.2).
    private static void Unfilter(byte filter, Span<byte> cur, ReadOnlySpan<byte> prior, string sourceName)
    {
        const int bpp = 2;
        for (int i = 0; i < cur.Length; i++)
        {
            int a = i >= bpp ? cur[i - bpp] : 0, b = prior[i], c = i >= bpp ? prior[i - bpp] : 0;
            cur[i] += filter switch
            {
                0 => 0,
                1 => (byte)a,
                2 => (byte)b,
                3 => (byte)((a + b) >> 1),
                4 => Paeth(a, b, c),
                _ => throw new ImageDecodeException($"Image '{sourceName}' has an invalid PNG filter type {filter}."),
            };
        }
    }

    private static byte Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
    }

    private static ImageDecodeException Truncated(string sourceName) =>
        new($"Image '{sourceName}' is truncated or corrupt (a PNG chunk runs past the end of the data).");
}
