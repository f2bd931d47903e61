// A PNG's metadata as Pillow 13's PngImagePlugin files it in im.info, for ImageExifOrientation: chunks are read in
// order up to IEND or a type that is not a chunk type (those after the image data too, as exif_transpose loads the
// image first; in an animated PNG only up to the second frame's fcTL, where load_end stops), a later chunk
// replacing an earlier one's entry. eXIf → info["exif"] (with "Exif\0\0" put in front); tEXt → info[key] as latin-1
// text, except the key "exif", kept as bytes; zTXt → the same once inflated (a stream zlib rejects gives ""); iTXt →
// info[key] as UTF-8 text when every field decodes (else nothing), and for "XML:com.adobe.xmp" also info["xmp"] as
// bytes. Hand-written: Skia exposes none of a PNG's text chunks.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Blip.Engine.Processing;

/// <summary>Reads the eXIf and text chunks of a PNG into the entries Pillow's <c>getexif()</c> consults.</summary>
internal static class ImagePngText
{
    private const string XmpKey = "XML:com.adobe.xmp";

    /// <summary>The entries, or null when <paramref name="png"/> is not a PNG.</summary>
    public static PillowOrientationInfo? Read(ReadOnlySpan<byte> png)
    {
        if (!ImagePngHeader.TryRead(png, out _))
        {
            return null;
        }

        var info = new PillowOrientationInfo();
        long end = ImagePngChunkRules.FirstFrameEnd(png); // an animated PNG's chunks after its next fcTL go unread
        for (long pos = 8; pos + 8 <= end;)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            var type = png.Slice((int)pos + 4, 4);
            if (type.SequenceEqual("IEND"u8) || !ImagePngChunks.IsChunkType(type) || pos + 8 + length > png.Length)
            {
                break;
            }

            var body = png.Slice((int)pos + 8, (int)length);
            if (type.SequenceEqual("eXIf"u8)) (info.Exif, info.ExifIsText) = ([.. "Exif\0\0"u8, .. body], false);
            else if (type.SequenceEqual("tEXt"u8)) Text(info, body);
            else if (type.SequenceEqual("zTXt"u8)) CompressedText(info, body);
            else if (type.SequenceEqual("iTXt"u8)) InternationalText(info, body);
            pos += 12 + length;
        }

        return info;
    }

    // chunk_tEXt: key up to the first NUL (all of it when there is none), an empty key stores nothing.
    private static void Text(PillowOrientationInfo info, ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        var key = nul < 0 ? s : s[..nul];
        var value = nul < 0 ? [] : s[(nul + 1)..];
        if (key.SequenceEqual("exif"u8))
        {
            (info.Exif, info.ExifIsText) = (value.ToArray(), false);
            return;
        }

        Store(info, key, value.ToArray());
    }

    // chunk_zTXt: a compression method other than 0 makes Pillow refuse the file (the decode does too: ImageDecoder).
    private static void CompressedText(PillowOrientationInfo info, ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        var key = nul < 0 ? s : s[..nul];
        var value = nul < 0 ? [] : s[(nul + 1)..];
        if (key.IsEmpty || (!value.IsEmpty && value[0] != 0))
        {
            return;
        }

        var text = value.IsEmpty ? [] : Inflate(value[1..]) ?? [];
        if (key.SequenceEqual("exif"u8)) (info.Exif, info.ExifIsText) = (text, true);
        else Store(info, key, text);
    }

    // chunk_iTXt: key NUL flag method lang NUL translated-key NUL text; compressed only with method 0.
    private static void InternationalText(PillowOrientationInfo info, ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        if (nul < 0 || s.Length - nul - 1 < 2) return;
        var key = s[..nul];
        byte flag = s[nul + 1], method = s[nul + 2];
        var r = s[(nul + 3)..];
        int a = r.IndexOf((byte)0);
        int b = a < 0 ? -1 : r[(a + 1)..].IndexOf((byte)0);
        if (b < 0) return;
        var lang = r[..a];
        var translated = r.Slice(a + 1, b);
        var raw = r[(a + 2 + b)..];
        byte[]? text = raw.ToArray();
        if (flag != 0 && (method != 0 || (text = Inflate(raw)) is null)) return;
        if (key.SequenceEqual(System.Text.Encoding.ASCII.GetBytes(XmpKey))) (info.Xmp, info.XmpIsText) = (text, false);
        if (!IsUtf8(lang) || !IsUtf8(translated) || !IsUtf8(text)) return;
        if (key.SequenceEqual("exif"u8)) (info.Exif, info.ExifIsText) = (text, true);
        else Store(info, key, text);
    }

    // The text entries getexif reads (info[key] = str).
    private static void Store(PillowOrientationInfo info, ReadOnlySpan<byte> key, byte[] text)
    {
        if (key.SequenceEqual("Raw profile type exif"u8)) info.RawProfileExif = text;
        else if (key.SequenceEqual(System.Text.Encoding.ASCII.GetBytes(XmpKey))) info.XmpText = text;
        else if (key.SequenceEqual("xmp"u8)) (info.Xmp, info.XmpIsText) = (text, true);
    }

    private static bool IsUtf8(ReadOnlySpan<byte> s) => System.Text.Unicode.Utf8.IsValid(s);

    // zlib.decompressobj().decompress: what the stream holds (bytes after its end ignored); null where zlib raises.
    private static byte[]? Inflate(ReadOnlySpan<byte> z)
    {
        try
        {
            using var input = new MemoryStream(z.ToArray());
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            zlib.CopyTo(output);
            return output.ToArray();
        }
        catch (Exception e) when (ImagePngImageData.IsZlibError(e))
        {
            return null;
        }
    }
}
