// The only scan of a sequential Huffman-coded JPEG that lacks its end-of-image marker, run as Pillow runs
// libjpeg-turbo 3.1 over it, to tell whether every MCU is decoded and where libjpeg's marker reader goes on (the data
// may run to the end of the file, or hold a marker the decoder resyncs past at a restart). Pillow hands libjpeg
// the file in 64 KiB reads (ImageFile.load) through a source that suspends when its bytes are used up; the bit reader
// (jdhuff.c) refills its 64-bit buffer to 57 bits whenever it runs short and suspends if a byte it asks for is not
// there yet, even one past what the MCU needs. An MCU that suspends is decoded again from its start with the next
// read's bytes; at the end of the file Pillow raises "image file is truncated". Whether that happens depends on where
// each refill falls: in decode_mcu_fast, used while 512 bytes per block are left in the buffer and no restart interval
// is set, a refill reads 6 bytes once 16 bits or fewer are left; in decode_mcu_slow, up to 57 bits once a code or
// its extra bits would not fit. Restart markers are read as read_restart_marker and jpeg_resync_to_restart read them.
// Only the number of bits each code takes is followed, not the coefficients. Hand-written: no library exposes
// libjpeg's bit reader, and Skia's decoder reads such a file whole where Pillow's may stop.
namespace Blip.Engine.Processing;

/// <summary>Follows libjpeg-turbo's Huffman decoding of a JPEG's only scan as Pillow feeds it.</summary>
internal ref struct ImageJpegScanRun
{
    private const int FastBytesPerBlock = 512; // BUFSIZE: DCTSIZE2 * 8
    private const int ReadSize = 64 * 1024;    // ImageFile.decodermaxblock

    private readonly ReadOnlySpan<byte> _data;
    private readonly ImageJpegScanSetup _scan;
    private int _end;                    // the end of the bytes Pillow has handed libjpeg so far
    private int _pos, _bits;             // the source's next byte; the bits left in the buffer
    private ulong _buffer;
    private int _unreadMarker, _restartsToGo, _nextRestart;
    private bool _insufficientData;

    private ImageJpegScanRun(ReadOnlySpan<byte> data, ImageJpegScanSetup scan)
    {
        _data = data;
        _scan = scan;
        _pos = scan.EntropyStart;
        _end = (int)Math.Min(data.Length, ((long)scan.EntropyStart + ReadSize - 1) / ReadSize * ReadSize);
        _restartsToGo = scan.RestartInterval;
    }

    /// <summary>Whether Pillow's libjpeg decodes every MCU of the only scan, whose entropy-coded data starts at
    /// <paramref name="entropyStart"/>, without suspending at the end of the data; false too where the headers are not
    /// a scan it would decode (<see cref="ImageJpegScanSetup"/>). <paramref name="after"/> is where libjpeg's marker
    /// reader goes on once every MCU is decoded: the FF of the marker the decoder met, else its next byte.</summary>
    public static bool DecodesEveryMcu(ReadOnlySpan<byte> data, int entropyStart, out int after)
    {
        after = data.Length;
        var scan = ImageJpegScanSetup.Read(data, entropyStart);
        if (scan is null) return false;
        var run = new ImageJpegScanRun(data, scan);
        for (long mcu = 0; mcu < scan.Mcus && !(run._insufficientData && scan.RestartInterval == 0); mcu++)
        {
            if (run._insufficientData && run._restartsToGo > 0)
            {
                // The rest of the interval is left zero without a read: the decoder met a marker.
                long skipped = Math.Min(run._restartsToGo, scan.Mcus - mcu);
                (mcu, run._restartsToGo) = (mcu + skipped - 1, run._restartsToGo - (int)skipped);
                continue;
            }

            while (!run.DecodeMcu())
            {
                if (run._end == data.Length) return false;                       // "image file is truncated"
                run._end = Math.Min(data.Length, run._end + ReadSize);
            }
        }

        after = run._unreadMarker != 0 ? run._pos - 2 : run._pos;                // the marker's code byte was read
        return true;
    }

    // decode_mcu: a restart first where one is due, then the fast or the slow decoder; false where it suspends.
    private bool DecodeMcu()
    {
        bool fast = _scan.RestartInterval == 0;
        if (!fast && _restartsToGo == 0 && !ProcessRestart()) return false;
        if (_end - _pos < FastBytesPerBlock * _scan.Blocks || _unreadMarker != 0) fast = false;
        if (!_insufficientData && !(fast && DecodeFast()) && !DecodeSlow()) return false;
        if (_scan.RestartInterval != 0) _restartsToGo--;
        return true;
    }

    private bool ProcessRestart()
    {
        _bits = 0;                                                               // the buffer's bits are dropped
        if (_unreadMarker == 0 && !NextMarker()) return false;
        if (_unreadMarker == 0xD0 + _nextRestart) _unreadMarker = 0;
        else if (!Resync()) return false;
        _nextRestart = (_nextRestart + 1) & 7;
        _restartsToGo = _scan.RestartInterval;
        if (_unreadMarker == 0) _insufficientData = false;
        return true;
    }

    // next_marker: skips to an FF, past fill FFs, to a byte that is not 00; a suspending source keeps what it synced.
    private bool NextMarker()
    {
        for (int p = _pos; ;)
        {
            if (p >= _end) return false;
            int c = _data[p++];
            while (c != 0xFF)
            {
                _pos = p;                                                        // a discarded byte is synced
                if (p >= _end) return false;
                c = _data[p++];
            }

            do
            {
                if (p >= _end) return false;
                c = _data[p++];
            }
            while (c == 0xFF);
            _pos = p;
            if (c != 0)
            {
                _unreadMarker = c;
                return true;
            }
        }
    }

    // jpeg_resync_to_restart with the restart libjpeg expects next.
    private bool Resync()
    {
        for (int marker = _unreadMarker; ;)
        {
            int ahead = (marker - 0xD0 - _nextRestart) & 7;
            bool restart = marker is >= 0xD0 and <= 0xD7;
            if (marker >= 0xC0 && (!restart || ahead is 1 or 2)) return true;    // left for the next interval
            if (marker >= 0xC0 && ahead is not (6 or 7))
            {
                _unreadMarker = 0;                                               // the expected one, or too far away
                return true;
            }

            if (!NextMarker()) return false;                                     // an earlier restart: on to the next
            marker = _unreadMarker;
        }
    }

    private bool DecodeSlow()
    {
        var bits = new ImageJpegBitReader(_data, _pos, _end, _buffer, _bits) { Marker = _unreadMarker, Insufficient = _insufficientData };
        for (int block = 0; block < _scan.Blocks; block++)
        {
            if (!bits.TryDecode(_scan.Dc[block], out int s) || (s != 0 && !bits.TryDrop(s))) return false;
            for (int k = 1; k < 64; k++)
            {
                if (!bits.TryDecode(_scan.Ac[block], out s)) return false;
                (int run, int size) = (s >> 4, s & 15);
                if (size != 0)
                {
                    k += run;
                    if (!bits.TryDrop(size)) return false;
                }
                else if (run != 15) break;
                else k += 15;
            }
        }

        // A suspended MCU changes nothing: the marker and the want of data are only met where no byte is read after.
        (_pos, _buffer, _bits, _unreadMarker, _insufficientData) = (bits.Position, bits.Buffer, bits.Count, bits.Marker, bits.Insufficient);
        return true;
    }

    private bool DecodeFast()
    {
        var bits = new ImageJpegBitReader(_data, _pos, _end, _buffer, _bits);
        for (int block = 0; block < _scan.Blocks; block++)
        {
            int s = bits.DecodeFast(_scan.Dc[block]);
            if (s != 0) bits.DropFast(s);
            for (int k = 1; k < 64; k++)
            {
                s = bits.DecodeFast(_scan.Ac[block]);
                (int run, int size) = (s >> 4, s & 15);
                if (size != 0)
                {
                    k += run;
                    bits.DropFast(size);
                }
                else if (run != 15) break;
                else k += 15;
            }
        }

        if (bits.Marker != 0) return false;                                     // the slow decoder takes the MCU
        (_pos, _buffer, _bits) = (bits.Position, bits.Buffer, bits.Count);
        return true;
    }
}
