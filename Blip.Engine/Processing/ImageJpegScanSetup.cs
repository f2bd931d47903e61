// What libjpeg-turbo sets up from a sequential JPEG's header for its only scan (jdmarker.c's get_sof, get_dht, get_dri
// and get_sos; jdinput.c's per-scan setup; jdhuff.c's start_pass): the Huffman tables of each block of an MCU, the
// blocks per MCU, how many MCUs the scan has, and the restart interval. A header libjpeg would raise on, or one this
// does not follow (a precision other than 8), gives no setup. A Huffman table of index 0 or 1 that no DHT defined is
// the standard one, as jpeg_make_d_derived_tbl takes it (jpeg_std_huff_table, for Motion-JPEG); one of index 2 or 3
// raises. Hand-written for ImageJpegScanRun.
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
        ReadTables(StandardTables, tables);                                       // a DHT replaces them
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
            int c = ImageJpegHeader.ScanComponent(frame, scan[1 + (2 * i)], i, chosen.AsSpan(0, i));
            if (c < 0) return null;
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

    /// <summary>The standard tables of the JPEG specification (Annex K.3), as a DHT segment's payload: what libjpeg-turbo
    /// takes for a table of index 0 or 1 that no DHT defined (jstdhuff.c), and what its encoder writes without
    /// optimised tables (the test compares them with a file Pillow wrote).</summary>
    internal static ReadOnlySpan<byte> StandardTables =>
    [
        // DC 0 (luminance): the index, the counts of codes of 1 to 16 bits, then the 12 symbols
        0x00, 0x00, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
        // AC 0 (luminance): the index, the counts of codes of 1 to 16 bits, then the 162 symbols
        0x10, 0x00, 0x02, 0x01, 0x03, 0x03, 0x02, 0x04, 0x03, 0x05, 0x05, 0x04, 0x04, 0x00, 0x00, 0x01, 0x7D,
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71,
        0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0, 0x24, 0x33, 0x62, 0x72,
        0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x34, 0x35, 0x36, 0x37,
        0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
        0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3,
        0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
        0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
        0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
        // DC 1 (chrominance): the index, the counts of codes of 1 to 16 bits, then the 12 symbols
        0x01, 0x00, 0x03, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B,
        // AC 1 (chrominance): the index, the counts of codes of 1 to 16 bits, then the 162 symbols
        0x11, 0x00, 0x02, 0x01, 0x02, 0x04, 0x04, 0x03, 0x04, 0x07, 0x05, 0x04, 0x04, 0x00, 0x01, 0x02, 0x77,
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22,
        0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0, 0x15, 0x62, 0x72, 0xD1,
        0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x35, 0x36,
        0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
        0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A,
        0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA,
        0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
        0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA,
    ];

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
