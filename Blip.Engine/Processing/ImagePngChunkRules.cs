// The complaints of Pillow 13's PngStream chunk handlers, which raise on bodies libpng (under Skia) only warns about
// or, after the image data, never reads: a short IHDR, gAMA, cHRM, sRGB, pHYs, tRNS (gray or RGB), acTL, fcTL or fdAT
// (ValueError "Truncated ... chunk"), an iCCP without a compression byte (IndexError) or of a method other than 0, an
// fcTL or fdAT out of sequence or an fcTL frame outside the image (SyntaxError), a zTXt, iTXt or iCCP that inflates to
// more than MAX_TEXT_CHUNK (1 MiB) and text chunks of more than MAX_TEXT_MEMORY (64 MiB) in all (ValueError). A zlib
// stream that is cut or damaged is no complaint (Pillow keeps what inflates, or nothing). Before the image data
// PngImageFile._open reads every chunk; after it load_end reads on to IEND, except in an animated PNG, where it stops
// at the next frame's fcTL header, before its body (convert("RGB") reads the first frame only), and at a chunk type
// that is not four letters (ChunkStream.read's SyntaxError ends load_end). Hand-written: Skia exposes none of this.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Blip.Engine.Processing;

/// <summary>Finds the PNG chunk whose handler makes Pillow refuse the file.</summary>
internal static class ImagePngChunkRules
{
    private const int MaxTextChunk = 1024 * 1024;          // PngImagePlugin.MAX_TEXT_CHUNK = ImageFile.SAFEBLOCK
    private const long MaxTextMemory = 64L * MaxTextChunk;  // PngImagePlugin.MAX_TEXT_MEMORY

    // What PngStream keeps between chunks: im_size, im_mode's gray/RGB kind, _seq_num, im_n_frames, the frame box.
    private sealed class PngState
    {
        public uint Width, Height;
        public int TransparencyBytes; // 2 for modes 1, L and I;16, 6 for RGB, 0 where tRNS is not checked
        public long? Sequence;
        public long? Frames;
        public bool HasFrameBox, FrameBoxIsWhole = true;
        public ImagePngFrameBox FrameBox;
        public long TextMemory;
    }

    /// <summary>Pillow's complaint, or null (also for data that is not a PNG; cut chunks are ImagePngChunks' to judge).
    /// <paramref name="firstFrame"/> is the last fcTL frame before the image data where it is not the whole image:
    /// chunk_IDAT makes it the decoder's tile, so the image data fills only that region (ImagePngFirstFrame).</summary>
    public static string? Refusal(ReadOnlySpan<byte> png, out ImagePngFrameBox? firstFrame) => Walk(png, out _, out firstFrame);

    /// <summary>Where Pillow stops reading chunks to give the first frame: the fcTL after the image data in an
    /// animated PNG, else the end of the data (ImagePngText reads no further).</summary>
    public static long FirstFrameEnd(ReadOnlySpan<byte> png)
    {
        _ = Walk(png, out long end, out _);
        return end;
    }

    private static string? Walk(ReadOnlySpan<byte> png, out long end, out ImagePngFrameBox? firstFrame)
    {
        end = png.Length;
        firstFrame = null;
        if (!ImagePngHeader.TryRead(png, out _)) return null;
        var s = new PngState();
        bool afterImage = false, animated = false;
        for (long pos = 8; pos + 8 <= png.Length;)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            var type = png.Slice((int)pos + 4, 4);
            if (afterImage && ((animated && type.SequenceEqual("fcTL"u8)) || !ImagePngChunks.IsChunkType(type)))
            {
                end = pos; // load_end stops at the next frame's chunk header (before its body) or a type that is not one
                return null;
            }

            if (pos + 8 + length > png.Length || type.SequenceEqual("IEND"u8)) return null;

            string where = afterImage ? ", after the image data," : "";
            if (Complaint(s, type, png.Slice((int)pos + 8, (int)length)) is { } c)
                return $"its {Encoding.ASCII.GetString(type)} chunk at byte {pos}{where} {c}";
            if (!afterImage && (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("fdAT"u8)))
            {
                // chunk_IDAT: without a frame box the image data is the default image, outside the animation.
                if (s.HasFrameBox && !s.FrameBoxIsWhole)
                {
                    if (s.FrameBox.Width == 0 || s.FrameBox.Height == 0)
                        return $"its first fcTL frame is {s.FrameBox.Width}x{s.FrameBox.Height} (Pillow: ValueError: tile cannot extend outside image)";
                    firstFrame = s.FrameBox;
                }
                animated = (s.Frames ?? 1) + (s.Frames is not null && !s.HasFrameBox ? 1 : 0) > 1;
                afterImage = true;
            }

            pos += 12 + length;
        }

        return null;
    }

    private static string? Complaint(PngState s, ReadOnlySpan<byte> type, ReadOnlySpan<byte> body)
    {
        return Encoding.ASCII.GetString(type) switch
        {
            "IHDR" => Header(s, body),
            "iCCP" => Profile(body),
            "tRNS" => body.Length < s.TransparencyBytes ? Truncated("tRNS") : null,
            "gAMA" => body.Length < 4 ? Truncated("gAMA") : null,
            "cHRM" => body.Length < 32 ? Truncated("cHRM") : null,
            "sRGB" => body.Length < 1 ? Truncated("sRGB") : null,
            "pHYs" => body.Length < 9 ? Truncated("pHYs") : null,
            "tEXt" => Text(s, body),
            "zTXt" => CompressedText(s, body),
            "iTXt" => InternationalText(s, body),
            "acTL" => AnimationControl(s, body),
            "fcTL" => FrameControl(s, body),
            "fdAT" => FrameData(s, body),
            _ => null,
        };
    }

    private static string Truncated(string name) => $"is too short (Pillow: ValueError: Truncated {name} chunk)";

    // chunk_IHDR: sets the size and mode (a later IHDR too), refuses a filter method other than 0.
    private static string? Header(PngState s, ReadOnlySpan<byte> b)
    {
        if (b.Length < 13) return Truncated("IHDR");
        (s.Width, s.Height) = (BinaryPrimitives.ReadUInt32BigEndian(b), BinaryPrimitives.ReadUInt32BigEndian(b[4..]));
        s.TransparencyBytes = (b[8], b[9]) switch
        {
            (1 or 2 or 4 or 8 or 16, 0) => 2,
            (8 or 16, 2) => 6,
            ((1 or 2 or 4 or 8), 3) or (8 or 16, 4 or 6) => 0,
            _ => s.TransparencyBytes, // not in _MODES: im_mode stays what it was
        };
        return b[11] != 0 ? "names an unknown filter method (Pillow: SyntaxError: unknown filter category)" : null;
    }

    // chunk_iCCP: s[s.find(b"\0") + 1] is the compression method (s[0] without a NUL).
    private static string? Profile(ReadOnlySpan<byte> b)
    {
        int method = b.IndexOf((byte)0) + 1;
        if (method >= b.Length) return "has no compression method byte (Pillow: IndexError: index out of range)";
        if (b[method] != 0) return $"names compression method {b[method]} (Pillow: SyntaxError)";
        return Inflate(b[(method + 1)..], out _) ? null : TooLarge;
    }

    private const string TooLarge =
        "inflates to more than 1 MiB (Pillow: ValueError: Decompressed data too large for PngImagePlugin.MAX_TEXT_CHUNK)";

    // chunk_tEXt: an empty key stores nothing; the value counts as latin-1 characters.
    private static string? Text(PngState s, ReadOnlySpan<byte> b)
    {
        int nul = b.IndexOf((byte)0);
        return nul == 0 || b.IsEmpty ? null : Remember(s, nul < 0 ? 0 : b.Length - nul - 1);
    }

    private static string? CompressedText(PngState s, ReadOnlySpan<byte> b)
    {
        int nul = b.IndexOf((byte)0);
        var value = nul < 0 ? [] : b[(nul + 1)..];
        if (!value.IsEmpty && value[0] != 0) return null; // ImagePngChunks refuses it with its own message
        if (!Inflate(value.IsEmpty ? [] : value[1..], out var text)) return TooLarge;
        return nul == 0 || b.IsEmpty ? null : Remember(s, text?.Length ?? 0);
    }

    // chunk_iTXt: returns early (storing nothing) on a missing field, an unknown method or a zlib error.
    private static string? InternationalText(PngState s, ReadOnlySpan<byte> b)
    {
        int nul = b.IndexOf((byte)0);
        if (nul < 0 || b.Length - nul - 1 < 2) return null;
        byte flag = b[nul + 1], method = b[nul + 2];
        var r = b[(nul + 3)..];
        int lang = r.IndexOf((byte)0);
        int translated = lang < 0 ? -1 : r[(lang + 1)..].IndexOf((byte)0);
        if (translated < 0) return null;
        var lt = r[..(lang + 1 + translated + 1)];
        byte[]? text = r[(lang + translated + 2)..].ToArray();
        if (flag != 0 && method != 0) return null;
        if (flag != 0 && !Inflate(text, out text)) return TooLarge;
        if (text is null || !Utf8(b[..nul]) || !Utf8(lt) || !Utf8(text)) return null;
        return Remember(s, CodePoints(text)); // len(v_str)
    }

    private static bool Utf8(ReadOnlySpan<byte> b) => System.Text.Unicode.Utf8.IsValid(b);

    // Python's len() of the decoded str: one per code point, i.e. per byte that is not a UTF-8 continuation byte.
    private static int CodePoints(ReadOnlySpan<byte> utf8)
    {
        int n = 0;
        foreach (byte c in utf8) n += (c & 0xC0) != 0x80 ? 1 : 0;
        return n;
    }

    // check_text_memory
    private static string? Remember(PngState s, long characters)
    {
        s.TextMemory += characters;
        return s.TextMemory > MaxTextMemory
            ? $"brings the text to {s.TextMemory} characters (Pillow: ValueError: Too much memory used in text chunks: {s.TextMemory}>MAX_TEXT_MEMORY)"
            : null;
    }

    // chunk_acTL: a second acTL, 0 frames or more than 2^31 make the file a plain PNG (a warning, not an error).
    private static string? AnimationControl(PngState s, ReadOnlySpan<byte> b)
    {
        if (b.Length < 8) return "is too short (Pillow: ValueError: APNG contains truncated acTL chunk)";
        uint frames = BinaryPrimitives.ReadUInt32BigEndian(b);
        s.Frames = s.Frames is not null || frames == 0 || frames > 0x80000000 ? null : frames;
        return null;
    }

    private static string? FrameControl(PngState s, ReadOnlySpan<byte> b)
    {
        if (b.Length < 26) return "is too short (Pillow: ValueError: APNG contains truncated fcTL chunk)";
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(b);
        if (s.Sequence is null ? seq != 0 : s.Sequence != seq - 1L) return Sequence(seq);
        s.Sequence = seq;
        long w = BinaryPrimitives.ReadUInt32BigEndian(b[4..]), h = BinaryPrimitives.ReadUInt32BigEndian(b[8..]);
        long x = BinaryPrimitives.ReadUInt32BigEndian(b[12..]), y = BinaryPrimitives.ReadUInt32BigEndian(b[16..]);
        if (x + w > s.Width || y + h > s.Height) return "puts its frame outside the image (Pillow: SyntaxError: APNG contains invalid frames)";
        if (s.Width > int.MaxValue || s.Height > int.MaxValue) return $"belongs to a {s.Width}x{s.Height} image, too large to decode";
        (s.HasFrameBox, s.FrameBoxIsWhole) = (true, (x, y, w, h) == (0, 0, s.Width, s.Height));
        s.FrameBox = new ImagePngFrameBox((int)x, (int)y, (int)w, (int)h); // inside the IHDR size, which Skia bounds
        return null;
    }

    private static string? FrameData(PngState s, ReadOnlySpan<byte> b)
    {
        if (b.Length < 4) return "is too short (Pillow: ValueError: APNG contains truncated fDAT chunk)";
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(b);
        if (s.Sequence != seq - 1L) return Sequence(seq);
        s.Sequence = seq;
        return null;
    }

    private static string Sequence(uint seq) => $"has sequence number {seq} out of order (Pillow: SyntaxError: APNG contains frame sequence errors)";

    // _safe_zlib_decompress: false when the stream inflates past MAX_TEXT_CHUNK; text is null where zlib raises.
    private static bool Inflate(ReadOnlySpan<byte> z, out byte[]? text)
    {
        using var output = new MemoryStream();
        var piece = new byte[16384];
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(z.ToArray()), CompressionMode.Decompress);
            for (int n; output.Length <= MaxTextChunk && (n = zlib.Read(piece)) > 0;) output.Write(piece, 0, n);
        }
        catch (Exception e) when (ImagePngImageData.IsZlibError(e))
        {
            text = null;
            return output.Length <= MaxTextChunk;
        }

        text = output.Length <= MaxTextChunk ? output.ToArray() : null;
        return output.Length <= MaxTextChunk;
    }
}
