// The chunks before a PNG's image data, checked as Pillow's PngImageFile._open reads them: every one must have a
// chunk type of four word characters, its whole body and a CRC that matches ("broken PNG file"). libpng, under
// Skia, only warns about a bad CRC in an ancillary chunk (gAMA, tEXt, eXIf...) and drops the chunk, so such files
// decoded here while Pillow cannot open them. Chunks from the first IDAT (or fdAT) on are not checked, by either.
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Blip.Engine.Processing;

/// <summary>Finds what makes Pillow refuse a PNG's header chunks.</summary>
internal static class ImagePngChunks
{
    /// <summary>Pillow's complaint about the chunks before the image data, or null (also for data that is not a PNG).</summary>
    public static string? BrokenHeader(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _))
        {
            return null;
        }

        for (long pos = 8; pos + 8 <= png.Length;)
        {
            var type = png.Slice((int)pos + 4, 4);
            string name = System.Text.Encoding.ASCII.GetString(type);
            if (!IsChunkType(type))
            {
                return $"chunk type {Convert.ToHexString(type)} at byte {pos} is not four letters or digits";
            }

            if (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("fdAT"u8))
            {
                return null;
            }

            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            if (pos + 12 + length > png.Length)
            {
                return $"its {name} chunk at byte {pos} ({length} bytes and a CRC) runs past the end of the data";
            }

            uint crc = Crc32.HashToUInt32(png.Slice((int)pos + 4, 4 + (int)length));
            if (crc != BinaryPrimitives.ReadUInt32BigEndian(png[(int)(pos + 8 + length)..]))
            {
                return $"its {name} chunk at byte {pos} has a bad CRC";
            }

            pos += 12 + length;
        }

        return null; // the data ends before any image data: Skia reports that
    }

    // Pillow's is_cid: re.compile(rb"\w\w\w\w").match on bytes (ASCII letters, digits, underscore).
    private static bool IsChunkType(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b == (byte)'_'))
            {
                return false;
            }
        }

        return true;
    }
}
