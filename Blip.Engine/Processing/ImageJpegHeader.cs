// The segments of a JPEG file's header as Pillow's JpegImageFile._open reads them: a marker loop from SOI to the first
// SOS that skips junk and fill bytes between markers, takes each segment's length (one under 2 reads nothing, so the
// loop goes on right after the length), stops at a segment that passes the end and raises at a marker under FFC0 other
// than FF00 ("no marker found": a TEM or a reserved marker, which libjpeg passes over). Its APP handler reads a JFIF (APP0)
// or Adobe (APP14) segment's version as two bytes at offset 5 and raises where the segment is shorter ("cannot identify
// image file"), and its SOF handler reads the fragment count of the ICC_PROFILE APP2 segment that sorts first; libjpeg,
// and so Skia, reads such files. Hand-written from Pillow's JpegImagePlugin.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>Walks a JPEG header as Pillow does (<see cref="Segments"/>) and finds the header segments Pillow raises on.</summary>
internal static class ImageJpegHeader
{
    private const int VersionEnd = 7; // Pillow's i16(s, 5): the JFIF or Adobe version's two bytes
    private const int IccCountAt = 13; // Pillow's icclist[0][13]: an ICC_PROFILE fragment count

    /// <summary>A header segment: its marker (the byte after FF) and where its payload starts and how long it is.</summary>
    public readonly record struct Segment(byte Marker, int Start, int Length);

    /// <summary>The header segments before the first SOS, in Pillow's order; empty where the data is not a JPEG.</summary>
    public static List<Segment> Segments(ReadOnlySpan<byte> data) => Walk(data, out _, out _);

    /// <summary>The header segments, and where the first SOS marker (its FF) is, -1 where the walk meets none.</summary>
    public static List<Segment> SegmentsToScan(ReadOnlySpan<byte> data, out int scan) => Walk(data, out _, out scan);

    /// <summary>The header segments, and where the walk met a marker Pillow does not know (-1 where it did not).</summary>
    private static List<Segment> Walk(ReadOnlySpan<byte> data, out int unknownMarker, out int scan)
    {
        (unknownMarker, scan) = (-1, -1);
        var segments = new List<Segment>();
        if (data.Length < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF)
        {
            return segments;
        }

        for (int i = 2; i + 1 < data.Length;)
        {
            if (data[i] != 0xFF) { i++; continue; }                    // junk between markers
            byte marker = data[i + 1];
            if (marker == 0xFF) { i++; continue; }                     // fill byte
            if (marker == 0x00) { i += 2; continue; }
            if (marker < 0xC0) { unknownMarker = i; break; }           // "no marker found": Pillow cannot open it
            if (marker is 0xC8 or (>= 0xD0 and <= 0xD9) or (>= 0xF0 and <= 0xFD)) { i += 2; continue; }  // no length
            if (i + 4 > data.Length || marker == 0xDA)                  // SOS: the header ends
            {
                scan = marker == 0xDA ? i : -1;
                break;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 2)..]);
            if (length < 2) { i += 4; continue; }                      // _safe_read of a negative size reads nothing
            if (i + 2 + length > data.Length) break;                   // "Truncated File Read"
            segments.Add(new Segment(marker, i + 4, length - 2));
            i += 2 + length;
        }

        return segments;
    }

    /// <summary>Where the entropy-coded data of the only scan starts, in a sequential file (SOF0 or SOF1) whose first scan
    /// holds every component; null for any other file (progressive, several scans, a cut SOS).</summary>
    public static int? SingleScanData(ReadOnlySpan<byte> data)
    {
        var segments = Walk(data, out _, out int scan);
        int frames = segments.Count(s => IsFrame(s.Marker));
        var frame = segments.Find(s => s.Marker is 0xC0 or 0xC1);
        if (scan < 0 || frames != 1 || frame.Length < 6 || scan + 5 > data.Length)
        {
            return null;
        }

        int end = scan + 2 + BinaryPrimitives.ReadUInt16BigEndian(data[(scan + 2)..]);
        return data[scan + 4] == data[frame.Start + 5] && end <= data.Length ? end : null; // Ns == Nf
    }

    /// <summary>What libjpeg-turbo's marker reader makes of a segment: read whole, suspended for want of data (Pillow
    /// then stops reading there), or raised on.</summary>
    public enum SegmentOutcome
    {
        /// <summary>Read, its length used up exactly.</summary>
        Read,

        /// <summary>A byte it reads is past the end of the data, before any check fails: the reader suspends.</summary>
        RunsOut,

        /// <summary>A check fails: JERR_BAD_LENGTH, JERR_DQT_INDEX, JERR_BAD_HUFF_TABLE, JERR_DHT_INDEX, JERR_DAC_INDEX,
        /// JERR_DAC_VALUE or JERR_BAD_COMPONENT_ID; or a scan header is read whole after the only scan
        /// (JERR_EOI_EXPECTED).</summary>
        Raises,
    }

    /// <summary>Whether libjpeg-turbo reads the DQT, DHT or DAC segment at <paramref name="at"/> (its FF) of declared
    /// <paramref name="length"/> without raising or running out of data; true for any other marker (a DRI included).
    /// Pillow raises on both ("image file is truncated", "broken data stream") where the segment comes between scans,
    /// and Skia, decoding a progressive file, may give the image.</summary>
    public static bool TablesRead(ReadOnlySpan<byte> data, byte marker, int at, int length) =>
        marker == 0xDD || ReadTables(data, marker, at, length) == SegmentOutcome.Read;

    /// <summary>How libjpeg-turbo's get_dqt, get_dht, get_dri or get_dac reads the segment at <paramref name="at"/> (its FF) of
    /// declared <paramref name="length"/>, in the order of its reads and checks (<see cref="SegmentOutcome.Read"/> for
    /// any other marker). get_dqt reads, per table, its index byte (an index of 4 or more raises) and then 64 entries
    /// (of 2 bytes where the precision nibble is not 0) whatever the length; get_dht a table's index and 16 counts,
    /// then (at most 256 and at most what the length leaves) its symbols, and then checks the index; get_dri wants a
    /// length of 4 before it reads on; get_dac pairs of bytes. DQT, DHT and DAC then want the length used up
    /// exactly.</summary>
    public static SegmentOutcome ReadTables(ReadOnlySpan<byte> data, byte marker, int at, int length)
    {
        if (marker == 0xDD) return length != 4 ? SegmentOutcome.Raises : at + 6 > data.Length ? SegmentOutcome.RunsOut : SegmentOutcome.Read;
        if (marker == 0xCC) return ReadArithmeticConditioning(data, at, length);
        if (marker is not (0xDB or 0xC4)) return SegmentOutcome.Read;
        long left = length - 2;
        int pos = at + 4;
        while (marker == 0xDB ? left > 0 : left > 16)
        {
            if (pos >= data.Length) return SegmentOutcome.RunsOut;
            int index = data[pos];
            int size;
            if (marker == 0xDB)
            {
                if ((index & 15) >= 4) return SegmentOutcome.Raises;                // JERR_DQT_INDEX
                size = 1 + (64 * ((index >> 4) == 0 ? 1 : 2));
            }
            else
            {
                if (pos + 17 > data.Length) return SegmentOutcome.RunsOut;
                int count = 0;
                for (int b = 1; b <= 16; b++) count += data[pos + b];
                if (count > 256 || count > left - 17) return SegmentOutcome.Raises;   // JERR_BAD_HUFF_TABLE
                size = 17 + count;
                if (pos + size <= data.Length && ((index & 0x0F) >= 4 || (index & 0xE0) != 0)) return SegmentOutcome.Raises;  // JERR_DHT_INDEX
            }

            if (pos + size > data.Length) return SegmentOutcome.RunsOut;           // the reads run out of data
            (pos, left) = (pos + size, left - size);
        }

        return left == 0 ? SegmentOutcome.Read : SegmentOutcome.Raises;
    }

    // get_dac: (index, value) pairs while the length leaves any; an index of 32 or more, or a DC table's value whose low
    // nibble (L) is above its high one (U), raises; then the length must be used up exactly.
    private static SegmentOutcome ReadArithmeticConditioning(ReadOnlySpan<byte> data, int at, int length)
    {
        long left = length - 2;
        for (int pos = at + 4; left > 0; pos += 2, left -= 2)
        {
            if (pos + 2 > data.Length) return SegmentOutcome.RunsOut;
            int index = data[pos], value = data[pos + 1];
            if (index >= 32 || (index < 16 && (value & 15) > (value >> 4))) return SegmentOutcome.Raises;
        }

        return left == 0 ? SegmentOutcome.Read : SegmentOutcome.Raises;
    }

    /// <summary>How get_sos reads an SOS segment at <paramref name="at"/> (its FF) that follows the only scan of a
    /// sequential file whose frame header is <paramref name="frame"/> (the SOF payload): it runs out of data, or it
    /// raises, at a check (a length other than 2·Ns + 6, Ns 0 or over 4; a component <see cref="ScanComponent"/> does
    /// not find) or, read whole, in consume_markers (JERR_EOI_EXPECTED: a second scan). Never
    /// <see cref="SegmentOutcome.Read"/>.</summary>
    public static SegmentOutcome ReadScanHeader(ReadOnlySpan<byte> data, int at, ReadOnlySpan<byte> frame)
    {
        int pos = at + 2;
        if (pos + 3 > data.Length) return SegmentOutcome.RunsOut;                 // Ls, Ns
        int inScan = data[pos + 2];
        if (BinaryPrimitives.ReadUInt16BigEndian(data[pos..]) != (2 * inScan) + 6 || inScan is < 1 or > 4) return SegmentOutcome.Raises;
        Span<int> chosen = stackalloc int[4];
        pos += 3;
        for (int i = 0; i < inScan; i++, pos += 2)
        {
            if (pos + 2 > data.Length) return SegmentOutcome.RunsOut;             // Cs, Td·16 + Ta
            chosen[i] = ScanComponent(frame, data[pos], i, chosen[..i]);
            if (chosen[i] < 0) return SegmentOutcome.Raises;
        }

        return pos + 3 > data.Length ? SegmentOutcome.RunsOut : SegmentOutcome.Raises; // Ss, Se, Ah·16 + Al
    }

    /// <summary>The frame component get_sos takes for the scan component with <paramref name="id"/> at scan position
    /// <paramref name="position"/>, or -1 where it raises (JERR_BAD_COMPONENT_ID). It takes the first of the first 4
    /// frame components with that id whose cur_comp_info slot is empty; the slots fill by scan position, so a component
    /// before <paramref name="position"/> is never found (a scan in another order than the frame raises), and one in
    /// <paramref name="taken"/> (the earlier positions') raises.</summary>
    public static int ScanComponent(ReadOnlySpan<byte> frame, int id, int position, ReadOnlySpan<int> taken)
    {
        int components = frame.Length < 6 ? 0 : Math.Min(Math.Min((int)frame[5], 4), (frame.Length - 6) / 3);
        int c = position;
        while (c < components && frame[6 + (3 * c)] != id) c++;
        return c >= components || taken.Contains(c) ? -1 : c;
    }

    /// <summary>Whether <paramref name="marker"/> (the byte after FF) starts a frame header: SOF0–SOF15 but DHT, JPG and
    /// DAC.</summary>
    public static bool IsFrame(byte marker) => marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC);

    /// <summary>How many restart intervals a scan has, as libjpeg counts its MCUs: one block of its component per MCU in
    /// a scan of one component (width_in_blocks × height_in_blocks), else ceil(X / 8·Hmax) × ceil(Y / 8·Vmax), in
    /// intervals of <paramref name="restartInterval"/> MCUs; 0 where that is not known (no restarts, a frame 0 high
    /// (DNL), a frame of no components, or headers too short or naming an unknown component or a sampling factor of 0).</summary>
    /// <param name="frame">The SOF segment's payload: P, Y, X, Nf, then (C, H·16 + V, Tq) per component.</param>
    /// <param name="scan">The SOS segment's payload: Ns, then (C, Td·16 + Ta) per component, Ss, Se, Ah·16 + Al.</param>
    /// <param name="restartInterval">The DRI's MCUs per interval in force, 0 for none.</param>
    public static long RestartIntervals(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> scan, int restartInterval)
    {
        if (restartInterval <= 0 || frame.Length < 6 || scan.Length < 1) return 0;
        long height = (frame[1] << 8) | frame[2], width = (frame[3] << 8) | frame[4];
        int components = frame[5], inScan = scan[0];
        if (height == 0 || width == 0 || components == 0 || frame.Length < 6 + (3 * components) || inScan == 0 || scan.Length < 1 + (2 * inScan)) return 0;
        int hMax = 0, vMax = 0;
        for (int c = 0; c < components; c++)
        {
            int sampling = frame[6 + (3 * c) + 1];
            if ((sampling >> 4) == 0 || (sampling & 15) == 0) return 0;
            (hMax, vMax) = (Math.Max(hMax, sampling >> 4), Math.Max(vMax, sampling & 15));
        }

        long mcus;
        if (inScan == 1)
        {
            int c = 0;
            while (c < components && frame[6 + (3 * c)] != scan[1]) c++;
            if (c == components) return 0;
            int sampling = frame[6 + (3 * c) + 1];
            mcus = CeilDiv(width * (sampling >> 4), 8L * hMax) * CeilDiv(height * (sampling & 15), 8L * vMax);
        }
        else
        {
            mcus = CeilDiv(width, 8L * hMax) * CeilDiv(height, 8L * vMax);
        }

        return CeilDiv(mcus, restartInterval);
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    /// <summary>Why Pillow raises on the header (a marker it does not know, a JFIF or Adobe segment too short for its
    /// version, an ICC_PROFILE segment too short for its fragment count where it sorts first at a frame header), or
    /// null.</summary>
    public static string? Refusal(ReadOnlySpan<byte> data)
    {
        var segments = Walk(data, out int unknownMarker, out _);
        if (unknownMarker >= 0)
        {
            return $"its header has a marker FF{data[unknownMarker + 1]:X2} at byte {unknownMarker}, which Pillow does not know (no marker found)";
        }

        var profiles = new List<Segment>();
        foreach (var segment in segments)
        {
            var s = data.Slice(segment.Start, segment.Length);
            bool versioned = (segment.Marker == 0xE0 && s.StartsWith("JFIF"u8)) || (segment.Marker == 0xEE && s.StartsWith("Adobe"u8));
            if (versioned && s.Length < VersionEnd)
            {
                return $"its APP{segment.Marker & 15} segment at byte {segment.Start - 4} has {s.Length} bytes, too few for the version Pillow reads at bytes 5-6";
            }

            if (segment.Marker == 0xE2 && s.StartsWith("ICC_PROFILE\0"u8)) profiles.Add(segment);
            if (!IsFrame(segment.Marker) || profiles.Count == 0) continue;
            // The SOF handler sorts the ICC_PROFILE payloads seen since the last SOF and reads the fragment count at
            // byte 13 of the first: an IndexError where that one is shorter.
            var first = profiles[0];
            foreach (var p in profiles)
            {
                if (data.Slice(p.Start, p.Length).SequenceCompareTo(data.Slice(first.Start, first.Length)) < 0) first = p;
            }

            if (first.Length <= IccCountAt)
            {
                return $"its APP2 ICC_PROFILE segment at byte {first.Start - 4} has {first.Length} bytes, too few for the fragment count Pillow reads at byte {IccCountAt}";
            }

            profiles.Clear();
        }

        return null;
    }
}
