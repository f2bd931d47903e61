// What libjpeg-turbo sets up from a sequential JPEG's header for its only scan (jdmarker.c's get_sof, get_dht, get_dri
// and get_sos; jdinput.c's per-scan setup; jdhuff.c's start_pass): the Huffman tables of each block of an MCU, the
// blocks per MCU, how many MCUs the scan has, and the restart interval. A header libjpeg would raise on, or one this
// does not follow (a precision other than 8, a table never defined: libjpeg's default tables are not reproduced),
// gives no setup. Hand-written for ImageJpegScanRun.
using System.Buffers.Binary;

namespace Blip.Engine.Processing;

/// <summary>The only scan of a sequential Huffman-coded JPEG, as libjpeg-turbo's Huffman decoder sees it.</summary>
internal sealed class ImageJpegScanSetup
{
    private const int MaxBlocksInMcu = 10;   // D_MAX_BLOCKS_IN_MCU
    private const int MaxComponents = 10;    // MAX_COMPONENTS

    private ImageJpegScanSetup(ImageJpegHuffmanTable[] dc, ImageJpegHuffmanTable[] ac, long mcus, int restartInterval, int entropyStart)
    {
        (Dc, Ac, Mcus, RestartInterval, EntropyStart) = (dc, ac, mcus, restartInterval, entropyStart);
    }

    /// <summary>The DC table of each block of an MCU.</summary>
    public ImageJpegHuffmanTable[] Dc { get; }

    /// <summary>The AC table of each block of an MCU.</summary>
    public ImageJpegHuffmanTable[] Ac { get; }

    /// <summary>Blocks per MCU.</summary>
    public int Blocks => Dc.Length;

    /// <summary>MCUs in the scan.</summary>
    public long Mcus { get; }

    /// <summary>MCUs per restart interval, 0 for none.</summary>
    public int RestartInterval { get; }

    /// <summary>Where the entropy-coded data starts: just after the SOS segment.</summary>
    public int EntropyStart { get; }

    /// <summary>The setup of the scan whose data starts at <paramref name="entropyStart"/> (after the first SOS of a
    /// SOF0 or SOF1 file whose scan holds every component), or null.</summary>
    public static ImageJpegScanSetup? Read(ReadOnlySpan<byte> data, int entropyStart)
    {
        var segments = ImageJpegHeader.SegmentsToScan(data, out int sos);
        var tables = new ImageJpegHuffmanTable?[8];                               // DC 0-3, AC 0-3
        ReadOnlySpan<byte> frame = default;
        int restartInterval = 0;
        foreach (var segment in segments)
        {
            var payload = data.Slice(segment.Start, segment.Length);
            if (segment.Marker is 0xC0 or 0xC1) frame = payload;
            else if (segment.Marker == 0xDD && payload.Length != 2) return null;      // get_dri: JERR_BAD_LENGTH
            else if (segment.Marker == 0xDD) restartInterval = BinaryPrimitives.ReadUInt16BigEndian(payload);
            else if (segment.Marker == 0xC4 && !ReadTables(payload, tables)) return null;
        }

        if (sos < 0 || sos + 4 > data.Length) return null;
        int sosLength = BinaryPrimitives.ReadUInt16BigEndian(data[(sos + 2)..]);
        if (sos + 2 + sosLength != entropyStart || frame.Length < 6) return null;
        return Setup(frame, data[(sos + 4)..entropyStart], tables, restartInterval, entropyStart);
    }

    private static ImageJpegScanSetup? Setup(ReadOnlySpan<byte> frame, ReadOnlySpan<byte> scan, ImageJpegHuffmanTable?[] tables, int restartInterval, int entropyStart)
    {
        long height = BinaryPrimitives.ReadUInt16BigEndian(frame[1..]), width = BinaryPrimitives.ReadUInt16BigEndian(frame[3..]);
        int components = frame[5], inScan = scan.Length > 0 ? scan[0] : 0;
        if (frame[0] != 8 || height == 0 || width == 0 || components is 0 or > MaxComponents || frame.Length != 6 + (3 * components)
            || inScan is < 1 or > 4 || scan.Length != 4 + (2 * inScan))
        {
            return null;
        }

        int hMax = 1, vMax = 1;
        for (int c = 0; c < components; c++)
        {
            int h = frame[7 + (3 * c)] >> 4, v = frame[7 + (3 * c)] & 15;
            if (h is < 1 or > 4 || v is < 1 or > 4) return null;                          // JERR_BAD_SAMPLING
            (hMax, vMax) = (Math.Max(hMax, h), Math.Max(vMax, v));
        }

        var dc = new List<ImageJpegHuffmanTable>();
        var ac = new List<ImageJpegHuffmanTable>();
        var chosen = new int[inScan];
        long mcus = CeilDiv(width, 8L * hMax) * CeilDiv(height, 8L * vMax);
        for (int i = 0; i < inScan; i++)
        {
            // get_sos takes the first of the first 4 frame components with the id whose cur_comp_info slot is empty:
            // slots fill by scan position, so a component before position i is never found (a scan in another order
            // than the frame raises), and one taken twice raises (JERR_BAD_COMPONENT_ID).
            int c = i;
            while (c < Math.Min(components, 4) && frame[6 + (3 * c)] != scan[1 + (2 * i)]) c++;
            if (c == Math.Min(components, 4) || chosen.AsSpan(0, i).Contains(c)) return null;
            chosen[i] = c;
            int selectors = scan[2 + (2 * i)], h = frame[7 + (3 * c)] >> 4, v = frame[7 + (3 * c)] & 15;
            if ((selectors >> 4) >= 4 || (selectors & 15) >= 4) return null;           // JERR_NO_HUFF_TABLE
            if (tables[selectors >> 4] is not { } dcTable || tables[4 + (selectors & 15)] is not { } acTable) return null;
            int blocks = inScan == 1 ? 1 : h * v;                                       // one block per MCU when alone
            if (inScan == 1) mcus = CeilDiv(width * h, 8L * hMax) * CeilDiv(height * v, 8L * vMax);
            for (int b = 0; b < blocks; b++)
            {
                dc.Add(dcTable);
                ac.Add(acTable);
            }
        }

        return dc.Count > MaxBlocksInMcu ? null : new ImageJpegScanSetup([.. dc], [.. ac], mcus, restartInterval, entropyStart);
    }

    // get_dht: tables of 1 index byte, 16 counts and the symbols, until fewer than 17 bytes are left, which must be none.
    private static bool ReadTables(ReadOnlySpan<byte> payload, ImageJpegHuffmanTable?[] tables)
    {
        while (payload.Length > 16)
        {
            int index = payload[0], count = 0;
            var counts = payload.Slice(1, 16);
            foreach (byte n in counts) count += n;
            if (count > 256 || count > payload.Length - 17) return false;                     // JERR_BAD_HUFF_TABLE
            bool isAc = (index & 0x10) != 0;
            if ((index & ~0x10) >= 4) return false;                                           // JERR_DHT_INDEX
            // A table libjpeg cannot derive raises only once a scan uses it (start_pass): it is kept as null.
            tables[(isAc ? 4 : 0) + (index & 3)] = ImageJpegHuffmanTable.Derive(counts, payload.Slice(17, count), !isAc);
            payload = payload[(17 + count)..];
        }

        return payload.IsEmpty;
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;
}
