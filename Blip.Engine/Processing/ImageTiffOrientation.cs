// The Orientation tag (274) of an EXIF block's IFD0, read as Pillow 13's Image.Exif.load and TiffImagePlugin's
// ImageFileDirectory_v2.load read it, quirks included: up to two "Exif\0\0" prefixes are dropped; the header must be
// one of TiffImagePlugin.PREFIXES (byte-swapped magic numbers too) and BigTIFF cannot load (Pillow raises); the first
// entry of a tag that Pillow keeps wins (one of an unknown type, with no data or whose data lies past the block's end
// is skipped); an out-of-line value that runs past the end stops the directory there; a value of any numeric type that
// equals a whole number counts (LONG 6, RATIONAL 12/2, DOUBLE 8.0), as Pillow's dict lookup compares them, and a
// count over 1 gives its first value. Hand-written: Skia reads only a SHORT orientation of JPEG and WebP EXIF, and
// a general EXIF reader (MetadataExtractor is served) would need each of these rules put back on top of it.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Reads IFD0's Orientation as Pillow's <c>Image.getexif()</c> does.</summary>
internal static class ImageTiffOrientation
{
    private const ushort OrientationTag = 274;

    /// <summary>
    /// The orientation in <paramref name="exif"/>: null when Pillow finds no Orientation entry (so XMP is consulted),
    /// 2–8 for a transpose, 1 for any other value (0, 9, text, bytes, 6.5...). <paramref name="refusal"/> says why
    /// Pillow's EXIF load raises (a header that is not TIFF's, or cut, or BigTIFF); null otherwise.
    /// </summary>
    public static int? Read(ReadOnlySpan<byte> exif, out string? refusal)
    {
        refusal = null;
        for (int i = 0; i < 2 && exif.StartsWith("Exif\0\0"u8); i++)
        {
            exif = exif[6..];
        }

        if (exif.IsEmpty)
        {
            return null;
        }

        var head = exif[..Math.Min(8, exif.Length)];
        if (head.Length < 4 || !IsTiffPrefix(head[..4]))
        {
            refusal = $"its EXIF does not start with a TIFF header (0x{Convert.ToHexString(head)}); Pillow raises SyntaxError";
        }
        else if (head[2] == 0x2B || head.Length < 8)
        {
            refusal = head[2] == 0x2B
                ? "its EXIF has a BigTIFF header, which Pillow's EXIF reader cannot load (struct.error)"
                : $"its EXIF ends inside its TIFF header ({head.Length} bytes; Pillow raises struct.error)";
        }

        if (refusal is not null)
        {
            return null;
        }

        bool bigEndian = head[0] == (byte)'M';
        return ReadIfd0(exif, U32(head[4..], bigEndian), bigEndian);
    }

    // TiffImagePlugin.PREFIXES: II*\0, MM\0*, the two byte-swapped magic numbers, and BigTIFF's.
    private static bool IsTiffPrefix(ReadOnlySpan<byte> p) =>
        p.SequenceEqual("MM\0*"u8) || p.SequenceEqual("II*\0"u8) || p.SequenceEqual("MM*\0"u8) || p.SequenceEqual("II\0*"u8)
        || p.SequenceEqual("MM\0+"u8) || p.SequenceEqual("II+\0"u8);

    // ImageFileDirectory_v2.load from offset `ifd`; a short read (Pillow's OSError) ends the directory where it is.
    private static int? ReadIfd0(ReadOnlySpan<byte> exif, uint ifd, bool bigEndian)
    {
        long limit = exif.Length, pos = ifd, total = 0;
        if (pos + 2 > limit)
        {
            return null;
        }

        int count = U16(exif[(int)pos..], bigEndian);
        pos += 2;
        var kept = new HashSet<ushort>();
        int? orientation = null;
        for (int i = 0; i < count && pos + 12 <= limit; i++, pos += 12)
        {
            var entry = exif.Slice((int)pos, 12);
            ushort tag = U16(entry, bigEndian), type = U16(entry[2..], bigEndian);
            long unit = UnitSize(type), size = unit * U32(entry[4..], bigEndian);
            if (kept.Contains(tag) || unit == 0)
            {
                continue;
            }

            ReadOnlySpan<byte> value;
            if (size > 4)
            {
                long offset = U32(entry[8..], bigEndian);
                total += size;                       // counted even for a tag it then skips, as Pillow does
                if (total > limit) continue;         // "Tag data larger than file"
                if (offset + size > limit) break;    // _safe_read raises OSError: the load stops
                value = exif.Slice((int)offset, (int)size);
            }
            else
            {
                value = entry.Slice(8, (int)size);
            }

            if (value.IsEmpty) continue;             // a count of 0
            kept.Add(tag);
            if (tag == OrientationTag) orientation = Value(type, value, bigEndian);
        }

        return orientation;
    }

    // Bytes per value of each type Pillow's _load_dispatch knows; 0 for the others (skipped).
    private static long UnitSize(ushort type) => type switch
    {
        1 or 2 or 6 or 7 => 1,
        3 or 8 => 2,
        4 or 9 or 11 or 13 => 4,
        5 or 10 or 12 or 16 => 8,
        _ => 0,
    };

    // The first value as an orientation: BYTE (Pillow keeps bytes), ASCII and UNDEFINED are never one.
    private static int Value(ushort type, ReadOnlySpan<byte> v, bool be) => type switch
    {
        3 => Whole(U16(v, be)),
        4 or 13 => Whole(U32(v, be)),
        6 => Whole((sbyte)v[0]),
        8 => Whole((short)U16(v, be)),
        9 => Whole((int)U32(v, be)),
        16 => U64(v, be) <= 8 ? Whole((long)U64(v, be)) : 1,
        5 => Ratio(U32(v, be), U32(v[4..], be)),
        10 => Ratio((int)U32(v, be), (int)U32(v[4..], be)),
        11 => Whole(be ? BinaryPrimitives.ReadSingleBigEndian(v) : BinaryPrimitives.ReadSingleLittleEndian(v)),
        12 => Whole(be ? BinaryPrimitives.ReadDoubleBigEndian(v) : BinaryPrimitives.ReadDoubleLittleEndian(v)),
        _ => 1,
    };

    private static int Whole(long v) => v is >= 2 and <= 8 ? (int)v : 1;

    private static int Whole(double v) => v is >= 2 and <= 8 && v == Math.Floor(v) ? (int)v : 1;

    // IFDRational: a zero denominator is NaN; otherwise the exact fraction, which equals an int only when it divides.
    private static int Ratio(long num, long den) => den != 0 && num % den == 0 ? Whole(num / den) : 1;

    private static ushort U16(ReadOnlySpan<byte> b, bool be) =>
        be ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    private static uint U32(ReadOnlySpan<byte> b, bool be) =>
        be ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    private static ulong U64(ReadOnlySpan<byte> b, bool be) =>
        be ? BinaryPrimitives.ReadUInt64BigEndian(b) : BinaryPrimitives.ReadUInt64LittleEndian(b);
}
