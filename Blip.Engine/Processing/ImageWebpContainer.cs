// WebP files whose RIFF container is cut or says more than the file holds. Pillow 13 opens every WebP through
// libwebp's WebPAnimDecoder, whose demuxer wants the whole RIFF payload and every chunk in it ("could not create
// decoder object" otherwise); Skia demuxes incrementally and decodes what is there, so a file cut inside its last
// chunk (even by its pad byte) came out as an image. Walked from the RIFF container specification.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Checks that a WebP file's RIFF container is whole, as libwebp's (non-incremental) demuxer wants it.</summary>
internal static class ImageWebpContainer
{
    private const int RiffHeader = 12; // "RIFF", payload size, "WEBP"
    private const int ChunkHeader = 8; // FourCC, payload size

    /// <summary>
    /// Why the container is not whole: its RIFF size passes the end of the data, or a chunk (with its pad byte)
    /// passes the end of the RIFF payload. Null when it is whole or the data is not a RIFF WebP file.
    /// </summary>
    public static string? Incomplete(ReadOnlySpan<byte> data)
    {
        if (data.Length < RiffHeader || !data[..4].SequenceEqual("RIFF"u8) || !data.Slice(8, 4).SequenceEqual("WEBP"u8))
        {
            return null;
        }

        long riffEnd = 8L + BinaryPrimitives.ReadUInt32LittleEndian(data[4..]); // bytes after the RIFF payload are ignored
        if (riffEnd > data.Length)
        {
            return $"its RIFF header says {riffEnd} bytes, the data has {data.Length}";
        }

        for (long pos = RiffHeader; pos < riffEnd;)
        {
            if (pos + ChunkHeader > riffEnd)
            {
                return $"a chunk header at byte {pos} passes the end of the RIFF payload ({riffEnd})";
            }

            uint size = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(pos + 4)..]);
            long next = pos + ChunkHeader + size + (size & 1);
            if (next > riffEnd)
            {
                return $"its {System.Text.Encoding.ASCII.GetString(data.Slice((int)pos, 4))} chunk at byte {pos} needs {next} bytes, the RIFF payload ends at {riffEnd}";
            }

            pos = next;
        }

        return null;
    }
}
