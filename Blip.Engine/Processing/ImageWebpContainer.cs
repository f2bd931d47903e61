// WebP files whose RIFF container is cut, says more than the file holds, or has a VP8X chunk of another size than 10.
// Pillow 13 opens every WebP through libwebp's WebPAnimDecoder, whose demuxer wants the whole RIFF payload and every
// chunk in it ("could not create decoder object" otherwise), and whose header check wants a VP8X chunk of exactly 10
// bytes; Skia demuxes incrementally and decodes what is there, so a file cut inside its last chunk (even by its pad
// byte), or with a longer VP8X chunk, came out as an image. The demuxer does not skip an ANMF chunk by its size: it
// reads the frame's image chunks (an ALPH, then a VP8 or VP8L) right after the frame header and goes on after them, so
// an ANMF size larger than its frame is read (as Pillow reads it); one smaller than the frame's image chunks, or than
// its 16-byte header, is refused. A simple file (a VP8 or VP8L chunk first, no VP8X) is read only up to the header of
// the chunk after its image chunks, whatever comes after that. Walked from the RIFF container specification and
// libwebp's demuxer.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Checks that a WebP file's RIFF container is whole, as libwebp's (non-incremental) demuxer wants it.</summary>
internal static class ImageWebpContainer
{
    private const int RiffHeader = 12; // "RIFF", payload size, "WEBP"
    private const int ChunkHeader = 8; // FourCC, payload size
    private const int Vp8xPayload = 10; // flags, reserved, canvas width and height
    private const int FrameHeader = 16; // an ANMF payload's frame position, size, duration and flags

    /// <summary>
    /// Why the container is not whole: its RIFF size passes the end of the data, its VP8X chunk is not 10 bytes, a
    /// chunk (with its pad byte) passes the end of the RIFF payload, or an ANMF chunk is shorter than its frame. Null
    /// when it is whole or the data is not a RIFF WebP file.
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

        if (riffEnd >= RiffHeader + ChunkHeader && data.Slice(RiffHeader, 4).SequenceEqual("VP8X"u8)
            && BinaryPrimitives.ReadUInt32LittleEndian(data[(RiffHeader + 4)..]) is var vp8x and not Vp8xPayload)
        {
            return $"its VP8X chunk says {vp8x} bytes, not {Vp8xPayload}";
        }

        if (riffEnd > RiffHeader + 4 && IsImageChunk(data, RiffHeader))
        {
            // A simple file: ParseSingleImage's StoreFrame reads the image chunks and the header of the chunk after
            // them, which must fit in the RIFF payload, and never walks on.
            long after = ImageChunksEnd(data, RiffHeader, riffEnd);
            return after < riffEnd ? ChunkEnd(data, after, riffEnd, out _) : null;
        }

        for (long pos = RiffHeader; pos < riffEnd;)
        {
            if (ChunkEnd(data, pos, riffEnd, out long next) is { } passes)
            {
                return passes;
            }

            if (!data.Slice((int)pos, 4).SequenceEqual("ANMF"u8))
            {
                pos = next;
            }
            else if (FrameEnd(data, pos, next, riffEnd, out pos) is { } shortFrame)
            {
                return shortFrame;
            }
        }

        return null;
    }

    // Where the chunk at pos ends with its pad byte, or why it passes the end of the RIFF payload.
    private static string? ChunkEnd(ReadOnlySpan<byte> data, long pos, long riffEnd, out long next)
    {
        next = riffEnd;
        if (pos + ChunkHeader > riffEnd)
        {
            return $"a chunk header at byte {pos} passes the end of the RIFF payload ({riffEnd})";
        }

        uint size = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(pos + 4)..]);
        next = pos + ChunkHeader + size + (size & 1);
        return next > riffEnd
            ? $"its {FourCc(data, pos)} chunk at byte {pos} needs {next} bytes, the RIFF payload ends at {riffEnd}"
            : null;
    }

    // Where the demuxer goes on after the ANMF chunk at pos (ending, by its size, at end): after the frame's image
    // chunks, which must lie inside it; else why they do not.
    private static string? FrameEnd(ReadOnlySpan<byte> data, long pos, long end, long riffEnd, out long at)
    {
        at = pos + ChunkHeader + FrameHeader;
        if (at > end)
        {
            return $"its ANMF chunk at byte {pos} has {end - pos - ChunkHeader} bytes, less than a frame header ({FrameHeader})";
        }

        at = ImageChunksEnd(data, at, riffEnd);
        return at > end
            ? $"its ANMF chunk at byte {pos} ends at {end}, inside its frame's image chunks (which end at {at})"
            : null;
    }

    // Where a frame's image chunks from `at` end, as the demuxer's StoreFrame reads them: the first ALPH and the first
    // VP8 or VP8L, each inside the RIFF payload. It stops at any other chunk, at a second one of those (the demuxer
    // reads it as a chunk of the file) and at a header that passes the payload's end.
    private static long ImageChunksEnd(ReadOnlySpan<byte> data, long at, long riffEnd)
    {
        bool alpha = false, image = false;
        while (at < riffEnd && ChunkEnd(data, at, riffEnd, out long next) is null)
        {
            bool isAlpha = data.Slice((int)at, 4).SequenceEqual("ALPH"u8), isImage = IsImageChunk(data, at);
            if (!(isAlpha && !alpha) && !(isImage && !image)) break;
            (alpha, image, at) = (alpha || isAlpha, image || isImage, next);
        }

        return at;
    }

    private static bool IsImageChunk(ReadOnlySpan<byte> data, long pos) =>
        data.Slice((int)pos, 4).SequenceEqual("VP8 "u8) || data.Slice((int)pos, 4).SequenceEqual("VP8L"u8);

    private static string FourCc(ReadOnlySpan<byte> data, long pos) => System.Text.Encoding.ASCII.GetString(data.Slice((int)pos, 4));
}
