// A JPEG Huffman table (a DHT's 16 counts and its symbols) in the form libjpeg-turbo's decoder derives from it
// (jdhuff.c, jpeg_make_d_derived_tbl): the largest code of each length, the offset from a code to its symbol, and the
// table of the next 8 bits. Hand-written to follow libjpeg bit for bit: ImageJpegScanRun needs to know how many bits
// each code takes, and no library exposes a JPEG decoder's bit reader.
namespace Blip.Engine.Processing;

/// <summary>A Huffman table derived as libjpeg-turbo derives it for decoding.</summary>
internal sealed class ImageJpegHuffmanTable
{
    /// <summary>HUFF_LOOKAHEAD: the bits the lookup table is indexed by.</summary>
    public const int Lookahead = 8;

    private readonly byte[] _symbols = new byte[256];          // huffval, zero past the table's symbols
    private readonly long[] _maxCode = new long[18];
    private readonly long[] _valueOffset = new long[18];
    private readonly int[] _lookup = new int[1 << Lookahead];  // code length << 8 | symbol; length 9 when longer

    private ImageJpegHuffmanTable()
    {
    }

    /// <summary>The table of <paramref name="counts"/> (codes of each length 1 to 16) and <paramref name="symbols"/>,
    /// or null where libjpeg raises JERR_BAD_HUFF_TABLE: more than 256 codes, counts that are no code tree (a
    /// length whose codes do not fit in it), or a DC symbol over 15.</summary>
    public static ImageJpegHuffmanTable? Derive(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> symbols, bool dc)
    {
        int total = 0;
        foreach (byte count in counts) total += count;
        if (counts.Length != 16 || total > 256 || symbols.Length < total) return null;

        var table = new ImageJpegHuffmanTable();
        symbols[..total].CopyTo(table._symbols);
        var codes = new long[total];
        long code = 0;
        for (int length = 1, p = 0; length <= 16; length++, code <<= 1)
        {
            int first = p;
            for (int i = 0; i < counts[length - 1]; i++) codes[p++] = code++;
            if (p > first && code >= 1L << length) return null;                 // all ones is no code
            table._maxCode[length] = p > first ? codes[p - 1] : -1;
            table._valueOffset[length] = p > first ? first - codes[first] : 0;
        }

        table._maxCode[17] = 0xFFFFF;                                             // ends a code search at 17 bits
        Array.Fill(table._lookup, (Lookahead + 1) << Lookahead);
        for (int length = 1, p = 0; length <= Lookahead; length++)
        {
            for (int i = 0; i < counts[length - 1]; i++, p++)
            {
                int bits = (int)(codes[p] << (Lookahead - length));
                for (int n = 0; n < 1 << (Lookahead - length); n++) table._lookup[bits + n] = (length << Lookahead) | symbols[p];
            }
        }

        return dc && symbols[..total].ContainsAnyInRange((byte)16, (byte)255) ? null : table;
    }

    /// <summary>The entry for the next 8 bits: the code's length (9 where it is longer) times 256 plus its symbol.</summary>
    public int Lookup(int nextBits) => _lookup[nextBits];

    /// <summary>The largest code of <paramref name="length"/> bits, -1 where there is none (17: a sentinel).</summary>
    public long MaxCode(int length) => _maxCode[length];

    /// <summary>The symbol of <paramref name="code"/>, a code of <paramref name="length"/> bits.</summary>
    public int Symbol(long code, int length) => _symbols[(int)(code + _valueOffset[length]) & 0xFF];
}
