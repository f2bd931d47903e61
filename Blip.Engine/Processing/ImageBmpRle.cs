// RLE-compressed BMPs as PIL gives them, decoded as Pillow's BmpRleDecoder (BmpImagePlugin.py) decodes them:
// it reads runs until width * height indices are written, the data ends, or an end-of-bitmap marker comes, and
// then refuses the image if any pixel is missing ("not enough image data", a ValueError that
// ImageFile.LOAD_TRUNCATED_IMAGES does not change). So a missing end-of-bitmap marker is fine once every row is
// written, and an early one is not. Skia did both the other way round, and also differs on the pixels an RLE
// bitmap leaves unwritten (Pillow: index 0; Skia: transparent) and on an absolute run past the end of its row
// (Pillow: it wraps to the next row). Indices past the palette are black; an all-gray palette makes Pillow's mode
// L (the index is the gray level) or 1 (any index but 0 is white).
namespace Blip.Engine.Processing;

/// <summary>Decodes RLE8 and RLE4 BMPs (Pillow's BmpRleDecoder and palette handling).</summary>
internal static class ImageBmpRle
{
    /// <summary>Whether the file is one that <see cref="Decode"/> handles.</summary>
    public static bool Handles(in ImageBmpHeader header) => header.Compression is ImageBmpHeader.Rle8 or ImageBmpHeader.Rle4;

    /// <summary>The pixels as <c>convert("RGB")</c> gives them; the caller has checked the pixel limit.</summary>
    /// <exception cref="ImageDecodeException">The data ends or says end of bitmap before every pixel is written, or
    /// the bit depth or palette size is one Pillow refuses.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> bmp, in ImageBmpHeader header, string sourceName)
    {
        // More than 256 entries are read where the file holds 256 or fewer of them, or they are gray (ImageBmpLayout's
        // PaletteRefusal has refused the rest); over 65,536 Pillow refuses (Unsupported BMP Palette size).
        if (header.Bits is not (1 or 4 or 8) || header.Colors is < 1 or > 65536)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is an RLE BMP of {header.Bits} bits a pixel with {header.Colors} palette entries; " +
                "only 1, 4 or 8 bits and 1 to 65,536 entries can be read (Pillow refuses the others too).");
        }

        var indices = new byte[(long)header.Width * header.Height];
        long written = ReadRuns(bmp, header.PixelOffset, header.Width, indices, header.Compression == ImageBmpHeader.Rle4);
        if (written < indices.Length)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is a truncated RLE BMP: its runs write {written} of its {header.Width}x{header.Height} = " +
                $"{indices.Length} pixels before the data ends or an end-of-bitmap marker comes.");
        }

        return ToRgb(indices, header, Palette(bmp, header), ImageBmpGray.IsGray(bmp, header));
    }

    // Pillow's decode loop, index for index; returns how many indices it wrote (its len(data)). Every step reads at
    // least one byte of the file or ends the loop, so a hostile file cannot make it spin.
    private static long ReadRuns(ReadOnlySpan<byte> bmp, long start, int width, byte[] data, bool rle4)
    {
        long pos = start, len = 0, x = 0, end = data.Length;
        while (len < end)
        {
            if (pos + 2 > bmp.Length)
            {
                break;
            }

            int count = bmp[(int)pos], value = bmp[(int)pos + 1];
            pos += 2;
            if (count != 0)
            {
                long n = Math.Min(x + count > width ? Math.Max(0, width - x) : count, end - len); // a run stops at its row's end
                for (long i = 0; i < n; i++)
                {
                    data[len + i] = (byte)(!rle4 ? value : i % 2 == 0 ? value >> 4 : value & 15);
                }

                len += n;
                x += n;
            }
            else if (value == 0)
            {
                len = (len + width - 1) / width * width; // end of line: the rest of the row stays index 0
                x = 0;
            }
            else if (value == 1)
            {
                break; // end of bitmap
            }
            else if (value == 2)
            {
                if (pos + 2 > bmp.Length)
                {
                    break;
                }

                len += Math.Min(end - len, bmp[(int)pos] + ((long)bmp[(int)pos + 1] * width)); // delta: right, up
                pos += 2;
                x = len % width;
            }
            else if (!Absolute(bmp, ref pos, data, ref len, value, rle4))
            {
                break;
            }
            else
            {
                x += value;
            }
        }

        return len;
    }

    // An absolute run of `count` indices (which, unlike an encoded run, may go on into the next row), then
    // padding to an even file offset; false where Pillow stops: the data ran out or the image is full.
    private static bool Absolute(ReadOnlySpan<byte> bmp, ref long pos, byte[] data, ref long len, int count, bool rle4)
    {
        long take = Math.Min(data.Length - len, count);
        long bytes = rle4 ? (take + 1) / 2 : take;
        long read = Math.Clamp(bmp.Length - pos, 0, bytes);
        for (long i = 0; i < read; i++)
        {
            byte b = bmp[(int)(pos + i)];
            if (!rle4)
            {
                data[len++] = b;
                continue;
            }

            data[len++] = (byte)(b >> 4);
            if ((i * 2) + 1 < take)
            {
                data[len++] = (byte)(b & 15);
            }
        }

        pos += read;
        if (read < bytes || len == data.Length)
        {
            return false;
        }

        pos += pos % 2; // word alignment, counted from the start of the file as Pillow's fd.tell() does
        return true;
    }

    // The palette as RGB triples; Pillow reads it right after the info header, 4 bytes (B, G, R, 0) an entry, and its
    // BGRX unpacker takes whole entries only: one whose fourth byte is past the end of the file is black too.
    private static byte[] Palette(ReadOnlySpan<byte> bmp, in ImageBmpHeader header)
    {
        var rgb = new byte[256 * 3]; // entries the file lacks, and indices past its palette, are black
        for (int i = 0; i < Math.Min(header.Colors, 256) && header.PaletteOffset + (4 * i) + 4 <= bmp.Length; i++) // indices are bytes
        {
            int p = header.PaletteOffset + (4 * i);
            (rgb[3 * i], rgb[(3 * i) + 1], rgb[(3 * i) + 2]) = (bmp[p + 2], bmp[p + 1], bmp[p]);
        }

        return rgb;
    }

    // Pillow ditches a palette whose entries are all gray levels (0 and 255 for two entries, entry i = i else):
    // mode "1" for up to two entries (index 0 black, any other white), mode "L" otherwise (the index is the level).
    // Pillow's mode: "1" for a gray palette of 1 or 2 entries (any index but 0 is white), "L" for a longer one (the index is
    // the gray level), else "P".
    private static RgbImage ToRgb(byte[] indices, in ImageBmpHeader header, byte[] palette, bool gray)
    {
        long colors = header.Colors;
        int width = header.Width, height = header.Height;
        var rgb = new byte[indices.LongLength * 3];
        for (int y = 0; y < height; y++)
        {
            int row = (header.TopDown ? y : height - 1 - y) * width; // stored rows go up from the bottom
            for (int x = 0; x < width; x++)
            {
                int index = indices[row + x], o = 3 * ((y * width) + x);
                if (gray)
                {
                    rgb[o] = rgb[o + 1] = rgb[o + 2] = colors <= 2 ? (byte)(index == 0 ? 0 : 255) : (byte)index;
                }
                else
                {
                    (rgb[o], rgb[o + 1], rgb[o + 2]) = (palette[3 * index], palette[(3 * index) + 1], palette[(3 * index) + 2]);
                }
            }
        }

        return new RgbImage(width, height, rgb);
    }
}
