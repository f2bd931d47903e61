// libjpeg-turbo's Huffman bit reader (jdhuff.h and jdhuff.c) over a JPEG's entropy-coded bytes, for ImageJpegScanRun:
// a 64-bit buffer of the next bits, filled from the bytes Pillow has handed over so far, with FF 00 read as an FF and
// any other byte after FF (fill FFs passed) taken as the marker that ends the data, after which zero bits are supplied.
// The slow path (jpeg_fill_bit_buffer, HUFF_DECODE, jpeg_huff_decode) fills up to 57 bits and reports a suspension
// where a byte is missing; the fast path (FILL_BIT_BUFFER_FAST, HUFF_DECODE_FAST) reads 6 bytes at a time once 16
// bits or fewer are left, and on a marker backs up to its FF and reads zeros, so that its MCU is left to the slow path.
// Hand-written to follow libjpeg bit for bit (see ImageJpegScanRun).
namespace Blip.Engine.Processing;

/// <summary>The bit reader of libjpeg-turbo's Huffman decoder, counting bits only.</summary>
internal ref struct ImageJpegBitReader
{
    private const int MinGetBits = 57;        // MIN_GET_BITS: BIT_BUF_SIZE - 7 on a 64-bit build
    private const int Lookahead = ImageJpegHuffmanTable.Lookahead;

    private readonly ReadOnlySpan<byte> _data;
    private readonly int _end;

    public ImageJpegBitReader(ReadOnlySpan<byte> data, int position, int end, ulong buffer, int count)
    {
        _data = data;
        (_end, Position, Buffer, Count) = (end, position, buffer, count);
    }

    /// <summary>The next byte to read.</summary>
    public int Position { get; private set; }

    /// <summary>The buffered bits, the next one at bit <see cref="Count"/> - 1.</summary>
    public ulong Buffer { get; private set; }

    /// <summary>How many bits are buffered.</summary>
    public int Count { get; private set; }

    /// <summary>The marker that ended the data (cinfo->unread_marker), 0 before one.</summary>
    public int Marker { get; set; }

    /// <summary>Whether zero bits had to stand in for data after the marker (insufficient_data).</summary>
    public bool Insufficient { get; set; }

    /// <summary>HUFF_DECODE: the next code's symbol; false where the source suspends.</summary>
    public bool TryDecode(ImageJpegHuffmanTable table, out int symbol)
    {
        symbol = 0;
        int length = 1;
        if (Count < Lookahead && !TryFill(0)) return false;
        if (Count >= Lookahead)
        {
            int entry = table.Lookup(Peek(Lookahead));
            length = entry >> Lookahead;
            if (length <= Lookahead)
            {
                Count -= length;
                symbol = entry & 0xFF;
                return true;
            }
        }

        // jpeg_huff_decode: the code is at least `length` bits; one more bit at a time up to 16 (17: a zero symbol).
        if (!TryNeed(length)) return false;
        long code = Take(length);
        while (code > table.MaxCode(length))
        {
            if (!TryNeed(1)) return false;
            code = (code << 1) | (uint)Take(1);
            length++;
        }

        symbol = length > 16 ? 0 : table.Symbol(code, length);
        return true;
    }

    /// <summary>CHECK_BIT_BUFFER then DROP_BITS: skips <paramref name="n"/> bits; false where the source suspends.</summary>
    public bool TryDrop(int n)
    {
        if (!TryNeed(n)) return false;
        Count -= n;
        return true;
    }

    /// <summary>HUFF_DECODE_FAST: the next code's symbol.</summary>
    public int DecodeFast(ImageJpegHuffmanTable table)
    {
        FillFast();
        int entry = table.Lookup(Peek(Lookahead));
        int length = entry >> Lookahead;
        Count -= length;
        if (length <= Lookahead) return entry & 0xFF;
        long code = (long)(Buffer >> Count) & ((1L << length) - 1);
        while (code > table.MaxCode(length))
        {
            code = (code << 1) | (uint)Take(1);
            length++;
        }

        return length > 16 ? 0 : table.Symbol(code, length);
    }

    /// <summary>FILL_BIT_BUFFER_FAST then DROP_BITS.</summary>
    public void DropFast(int n)
    {
        FillFast();
        Count -= n;
    }

    private readonly int Peek(int n) => (int)(Buffer >> (Count - n)) & ((1 << n) - 1);

    private int Take(int n)
    {
        Count -= n;
        return (int)(Buffer >> Count) & ((1 << n) - 1);
    }

    private bool TryNeed(int n) => Count >= n || TryFill(n);

    // jpeg_fill_bit_buffer: bytes up to 57 bits until the marker; after it, zeros where `need` bits are not there.
    private bool TryFill(int need)
    {
        while (Marker == 0 && Count < MinGetBits)
        {
            if (Position >= _end) return false;
            int c = _data[Position++];
            if (c == 0xFF)
            {
                do
                {
                    if (Position >= _end) return false;
                    c = _data[Position++];
                }
                while (c == 0xFF);
                if (c != 0)
                {
                    Marker = c;
                    break;
                }

                c = 0xFF;                                                        // FF 00 is an FF
            }

            (Buffer, Count) = ((Buffer << 8) | (uint)c, Count + 8);
        }

        if (Marker != 0 && need > Count)
        {
            Insufficient = true;
            (Buffer, Count) = (Buffer << (MinGetBits - Count), MinGetBits);
        }

        return true;
    }

    // FILL_BIT_BUFFER_FAST: 6 bytes once 16 bits or fewer are left. At a marker the bytes are zeros and the position
    // stays at its FF (GET_BYTE), so the MCU goes to the slow path. Reads stay in the buffer: decode_mcu takes this
    // path only while 512 bytes per block are left, more than a block's codes can take.
    private void FillFast()
    {
        if (Count > 16) return;
        for (int i = 0; i < 6; i++)
        {
            int c0 = _data[Position++], c1 = Position < _data.Length ? _data[Position] : 0;
            (Buffer, Count) = ((Buffer << 8) | (uint)c0, Count + 8);
            if (c0 != 0xFF) continue;
            Position++;
            if (c1 == 0) continue;
            Marker = c1;
            Position -= 2;
            Buffer &= ~0xFFUL;
        }
    }
}
