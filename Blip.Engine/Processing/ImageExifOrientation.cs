// Where Pillow 13's ImageOps.exif_transpose (which transformers' load_image applies) takes an image's orientation
// from, format by format, and in which order (Image.getexif): the EXIF block (info["exif"]; for a PNG without one, a
// text chunk "Raw profile type exif" in hex) and its IFD0 Orientation; only when that has no Orientation entry, the
// first tiff:Orientation="d" or <tiff:Orientation>d of the XMP (a PNG's "XML:com.adobe.xmp" text, else info["xmp"]),
// matched as text as Pillow's regular expression does (not parsed as XML). JPEG: the APP1 "Exif\0\0" segments before
// the first scan, joined (later ones' payloads appended to the first), and the last APP1 XMP segment; when no JFIF
// segment gives a density in dpi or dpcm, Pillow reads the EXIF while opening and swallows its errors, leaving no
// orientation at all (not even XMP's). WebP: libwebp's demuxer's first EXIF and "XMP " chunks, kept only when the
// VP8X flags announce them. PNG: ImagePngText. GIF, BMP and ICO: none (Pillow's ICO keeps none of its PNG's info).
// Hand-written: Skia reports only JPEG and WebP EXIF (SHORT values).
using System.Buffers.Binary;
using SkiaSharp;

namespace Blip.Engine.Processing;

/// <summary>The metadata Pillow's <c>getexif()</c> reads the orientation from (its <c>info</c> entries).</summary>
internal sealed class PillowOrientationInfo
{
    /// <summary>info["exif"]; <see cref="ExifIsText"/> when a PNG's zTXt/iTXt "exif" chunk made it a str (Pillow raises).</summary>
    public byte[]? Exif { get; set; }

    public bool ExifIsText { get; set; }

    /// <summary>info["Raw profile type exif"] (a PNG text chunk: ImageMagick's hex dump).</summary>
    public byte[]? RawProfileExif { get; set; }

    /// <summary>info["XML:com.adobe.xmp"] (a PNG text chunk, as str).</summary>
    public byte[]? XmpText { get; set; }

    /// <summary>info["xmp"]; <see cref="XmpIsText"/> when a PNG text chunk named "xmp" made it a str (Pillow raises).</summary>
    public byte[]? Xmp { get; set; }

    public bool XmpIsText { get; set; }

    /// <summary>A JPEG whose EXIF Pillow already read while opening, swallowing its errors.</summary>
    public bool ExifErrorsSwallowed { get; set; }
}

/// <summary>The EXIF/XMP orientation (1–8) of an encoded image as Pillow's <c>ImageOps.exif_transpose</c> finds it.</summary>
internal static class ImageExifOrientation
{
    /// <summary>The orientation to apply (1 = none).</summary>
    /// <exception cref="ImageDecodeException">Pillow's exif_transpose raises on this file's metadata.</exception>
    public static int Read(ReadOnlySpan<byte> data, SKEncodedImageFormat format, string sourceName)
    {
        var info = format switch
        {
            SKEncodedImageFormat.Jpeg => Jpeg(data),
            SKEncodedImageFormat.Png => ImagePngText.Read(data),
            SKEncodedImageFormat.Webp => Webp(data),
            _ => null,
        };
        return info is null ? 1 : Evaluate(info, sourceName);
    }

    // Image.getexif, then exif_transpose's lookup of the value.
    private static int Evaluate(PillowOrientationInfo info, string sourceName)
    {
        byte[]? exif = info.Exif;
        if (exif is null && info.RawProfileExif is { } hex)
        {
            exif = FromHexDump(hex) ?? throw Refused(sourceName,
                "its \"Raw profile type exif\" text is not hexadecimal (Pillow's bytes.fromhex raises ValueError)");
        }
        else if (exif is not null && info.ExifIsText)
        {
            throw Refused(sourceName, "a compressed or international text chunk named \"exif\" holds its EXIF, which Pillow reads as str and then cannot parse (TypeError)");
        }

        int? orientation = null;
        if (exif is not null)
        {
            orientation = ImageTiffOrientation.Read(exif, out var refusal);
            if (refusal is not null)
            {
                return info.ExifErrorsSwallowed ? 1 : throw Refused(sourceName, refusal);
            }
        }

        return orientation ?? Xmp(info, sourceName);
    }

    private static int Xmp(PillowOrientationInfo info, string sourceName)
    {
        byte[]? xmp = info.XmpText is { Length: > 0 } text ? text : info.Xmp;
        if (xmp is not { Length: > 0 })
        {
            return 1;
        }

        if (ReferenceEquals(xmp, info.Xmp) && info.XmpIsText)
        {
            throw Refused(sourceName, "a text chunk named \"xmp\" holds its XMP, which Pillow reads as str and then cannot search (TypeError)");
        }

        // re.search(r'tiff:Orientation(="|>)([0-9])', xmp): the first place that matches.
        var span = xmp.AsSpan();
        for (int at = span.IndexOf("tiff:Orientation"u8); at >= 0; at = Next(span, at))
        {
            var rest = span[(at + 16)..];
            int digit = rest.StartsWith("=\""u8) ? 2 : rest.StartsWith(">"u8) ? 1 : -1;
            if (digit > 0 && rest.Length > digit && char.IsAsciiDigit((char)rest[digit]))
            {
                int v = rest[digit] - '0';
                return v is >= 2 and <= 8 ? v : 1;
            }
        }

        return 1;
    }

    private static int Next(ReadOnlySpan<byte> span, int at)
    {
        int next = span[(at + 1)..].IndexOf("tiff:Orientation"u8);
        return next < 0 ? -1 : at + 1 + next;
    }

    // bytes.fromhex("".join(text.split("\n")[3:])): the text after its third line break, its line breaks removed, as hex
    // pairs with ASCII whitespace allowed between pairs; null where Python raises.
    private static byte[]? FromHexDump(byte[] text)
    {
        int start = 0;
        for (int lines = 0; lines < 3; lines++)
        {
            int nl = Array.IndexOf(text, (byte)'\n', start);
            if (nl < 0) return [];
            start = nl + 1;
        }

        var digits = text.AsSpan(start).ToArray().Where(c => c != '\n').ToArray();
        var bytes = new List<byte>(digits.Length / 2);
        for (int i = 0; i < digits.Length;)
        {
            byte c = digits[i];
            if (c is (byte)' ' or (byte)'\t' or (byte)'\r' or 0x0B or 0x0C) { i++; continue; }
            if (i + 1 >= digits.Length || !char.IsAsciiHexDigit((char)c) || !char.IsAsciiHexDigit((char)digits[i + 1])) return null;
            bytes.Add((byte)((HexValue(c) << 4) | HexValue(digits[i + 1])));
            i += 2;
        }

        return [.. bytes];
    }

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static ImageDecodeException Refused(string sourceName, string why) =>
        new($"Image '{sourceName}' cannot be turned upright as Pillow's ImageOps.exif_transpose would: {why} (ImageDecodeOptions.ApplyExifOrientation).");

    // JpegImageFile._open's marker loop up to the first SOS (ImageJpegHeader), with its APP handler's Exif, XMP and JFIF rules.
    private static PillowOrientationInfo Jpeg(ReadOnlySpan<byte> data)
    {
        var info = new PillowOrientationInfo();
        bool dpi = false;
        foreach (var segment in ImageJpegHeader.Segments(data))
        {
            var s = data.Slice(segment.Start, segment.Length);
            if (segment.Marker == 0xE0 && s.StartsWith("JFIF"u8) && s.Length >= 12 && s[7] is 1 or 2) dpi = true;
            else if (segment.Marker == 0xE1 && s.StartsWith("Exif\0\0"u8)) info.Exif = info.Exif is null ? s.ToArray() : [.. info.Exif, .. s[6..]];
            else if (segment.Marker == 0xE1 && s.StartsWith("http://ns.adobe.com/xap/1.0/\0"u8)) info.Xmp = s[29..].ToArray();
        }

        info.ExifErrorsSwallowed = !dpi && info.Exif is not null;
        return info;
    }

    // libwebp's WebPDemuxGetChunk(demux, fourcc, 1): the first EXIF and "XMP " chunks of an extended (VP8X) file whose
    // flags announce them (the demuxer does not keep them otherwise); a simple file has none. Empty ones are not kept.
    private static PillowOrientationInfo? Webp(ReadOnlySpan<byte> data)
    {
        if (data.Length < 30 || !data.Slice(12, 4).SequenceEqual("VP8X"u8))
        {
            return null;
        }

        var info = new PillowOrientationInfo();
        byte flags = data[20];
        long end = Math.Min(data.Length, 8L + BinaryPrimitives.ReadUInt32LittleEndian(data[4..]));
        for (long pos = 12; pos + 8 <= end;)
        {
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(data[(int)(pos + 4)..]);
            if (pos + 8 + size > end) break;
            var fourcc = data.Slice((int)pos, 4);
            var body = data.Slice((int)pos + 8, (int)size);
            if (fourcc.SequenceEqual("EXIF"u8) && (flags & 0x08) != 0 && info.Exif is null && !body.IsEmpty) info.Exif = body.ToArray();
            if (fourcc.SequenceEqual("XMP "u8) && (flags & 0x04) != 0 && info.Xmp is null && !body.IsEmpty) info.Xmp = body.ToArray();
            pos += 8 + size + (size & 1);
        }

        return info;
    }
}
