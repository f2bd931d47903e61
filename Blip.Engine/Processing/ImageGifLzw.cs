// A GIF frame's LZW data decoded as Pillow decodes it: its GIF decoder (libImaging/GifDecode.c), fed as
// ImageFile.load feeds it. The data sub-blocks are one stream: a block is begun only once all of it is there, and a
// 0-length block (a terminator) is skipped like any other, so a frame may go on past it. Decoding stops the moment
// the frame's last row is written, whatever follows. The end code only ends one call of the decoder: ImageFile.load
// then reads the next 64 KiB of the file and decoding goes on after the code, or, at the end of the file, the image
// is truncated; so is a frame whose data runs out. A first code after a clear code that is above it, a code past
// the next free one, or a string longer than the 4,096-entry buffer is broken data. Codes start at the minimum code
// size + 1 bits and grow to 12; every minimum code size from 0 to 12 is read. Hand-written: Skia's GIF decoder
// refused minimum code sizes under 2 or over 8 and data that goes on past a 0-length sub-block, which Pillow reads.
using System.Runtime.CompilerServices;

namespace Blip.Engine.Processing;

/// <summary>Decodes a GIF frame's LZW data into a canvas of palette indices, as Pillow's GIF decoder does.</summary>
internal sealed class ImageGifLzw
{
    private const int TableSize = 4096; // GIFTABLE and GIFBUFFER: 12-bit codes
    private const int MaxCodeSize = 12;
    private const int ReadSize = 64 * 1024; // ImageFile.decodermaxblock

    private readonly byte[] _canvas;
    private readonly int _stride;
    private readonly ImagePngFrameBox _box;
    private readonly int _bits, _clear, _end;
    private readonly byte[] _stack = new byte[TableSize], _suffix = new byte[TableSize];
    private readonly ushort[] _prefix = new ushort[TableSize];
    private int _next, _codeSize, _codeMask, _bitBuffer, _bitCount, _blockSize, _stackIndex = TableSize;
    private int _state = 1; // 1: reset the table; 2: just after a clear code; 3: within the data
    private int _lastCode;
    private byte _lastData;
    private int _x, _y, _step, _pass; // _pass: the interlace pass (1 to 3) whose rows are being written, 0 for the last or none
    private string? _broken;
    private long _written, _row; // _row: where the canvas row being written starts

    private ImageGifLzw(byte[] canvas, int stride, in ImageGifFrame frame)
    {
        (_canvas, _stride, _box, _bits) = (canvas, stride, frame.Box, frame.Bits);
        _clear = 1 << _bits;
        _end = _clear + 1;
        (_pass, _step) = frame.Interlaced ? (1, 8) : (0, 1);
        _row = ((long)_box.Y * stride) + _box.X;
    }

    /// <summary>Writes the frame's indices into <paramref name="canvas"/> (rows of <paramref name="stride"/>); null
    /// when every row was written, else why Pillow refuses the image.</summary>
    /// <param name="data">The file from the frame's first data sub-block on.</param>
    /// <param name="canvas">The canvas, filled beforehand where the frame does not reach.</param>
    /// <param name="stride">The canvas width.</param>
    /// <param name="frame">The frame: its region, code size and interlacing.</param>
    public static string? Decode(ReadOnlySpan<byte> data, byte[] canvas, int stride, in ImageGifFrame frame)
    {
        if (frame.Bits > MaxCodeSize)
        {
            return $"its LZW minimum code size is {frame.Bits}; Pillow's decoder takes 0 to {MaxCodeSize}";
        }

        var lzw = new ImageGifLzw(canvas, stride, frame);
        int pos = 0, read = 0;
        while (read < data.Length) // ImageFile.load: one more piece of the file, or "image file is truncated"
        {
            read = Math.Min(read + ReadSize, data.Length);
            switch (lzw.Run(data[..read], ref pos))
            {
                case true: return null;
                case false: return $"broken data stream: {lzw._broken}";
                case null: break;
            }
        }

        return $"image file is truncated: its LZW data ends after {lzw._written} of the frame's {(long)frame.Box.Width * frame.Box.Height} pixels";
    }

    // One call of Pillow's decoder on the data read so far: true once the frame is full, false on broken data, null
    // where it wants more data (or met the end code). Its callees are small enough to be inlined into its loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the per-code loop, run once per image: skip the unoptimised JIT tier
    private bool? Run(ReadOnlySpan<byte> data, ref int pos)
    {
        while (true)
        {
            if (_state == 1)
            {
                (_next, _codeSize, _state) = (_clear + 2, _bits + 1, 2);
                _codeMask = (1 << _codeSize) - 1;
            }

            if (_stackIndex < TableSize && PutStack()) // the rest of the last string, after its first index
            {
                return true;
            }

            if (!NextCode(data, ref pos, out int code) || code == _end)
            {
                return null;
            }

            if (code == _clear)
            {
                _state = _state == 2 ? 2 : 1;
                continue;
            }

            if ((_broken = Expand(code)) is not null)
            {
                return false;
            }

            if (Put(_lastData))
            {
                return true;
            }
        }
    }

    // The next code from the bit buffer, refilled from the sub-blocks; false where a block is not all there yet.
    private bool NextCode(ReadOnlySpan<byte> data, ref int pos, out int code)
    {
        code = 0;
        while (_bitCount < _codeSize)
        {
            if (_blockSize > 0)
            {
                _bitBuffer |= data[pos++] << _bitCount;
                _bitCount += 8;
                _blockSize--;
            }
            else if (pos < data.Length && data.Length - pos > data[pos])
            {
                _blockSize = data[pos++];
            }
            else
            {
                return false;
            }
        }

        code = _bitBuffer & _codeMask;
        _bitBuffer >>= _codeSize;
        _bitCount -= _codeSize;
        return true;
    }

    // Code → string: its first index in _lastData, the rest on the stack; the table grows by one entry. Null, or
    // what is broken.
    private string? Expand(int code)
    {
        if (_state == 2)
        {
            if (code > _clear)
            {
                return $"the first code after a clear code is {code}, above the clear code {_clear}";
            }

            (_lastData, _lastCode, _state) = ((byte)code, code, 3);
            return null;
        }

        int thisCode = code;
        if (code > _next)
        {
            return $"code {code} is past the next free code {_next}";
        }

        if (code == _next) // the previous string and its own first index
        {
            _stack[--_stackIndex] = _lastData;
            code = _lastCode;
        }

        while (code >= _clear)
        {
            if (_stackIndex <= 0 || code >= TableSize)
            {
                return $"code {thisCode} stands for a string longer than {TableSize} indices or past the table";
            }

            _stack[--_stackIndex] = _suffix[code];
            code = _prefix[code];
        }

        _lastData = (byte)code;
        if (_next < TableSize)
        {
            (_suffix[_next], _prefix[_next]) = ((byte)code, (ushort)_lastCode);
            if (_next == _codeMask && _codeSize < MaxCodeSize)
            {
                _codeMask = (1 << ++_codeSize) - 1;
            }

            _next++;
        }

        _lastCode = thisCode;
        return null;
    }

    // Writes the stacked rest of a string, a row's worth at a time; true once the frame's last row is done.
    private bool PutStack()
    {
        while (_stackIndex < TableSize)
        {
            int n = Math.Min(TableSize - _stackIndex, _box.Width - _x);
            _stack.AsSpan(_stackIndex, n).CopyTo(_canvas.AsSpan((int)(_row + _x), n));
            (_stackIndex, _x, _written) = (_stackIndex + n, _x + n, _written + n);
            if (_x == _box.Width && NextRow())
            {
                return true;
            }
        }

        return false;
    }

    // Writes one index and moves on; true once the frame's last row is done.
    private bool Put(byte index)
    {
        _canvas[_row + _x] = index;
        _written++;
        return ++_x == _box.Width && NextRow();
    }

    // GifDecode.c's NEWLINE: the next row, in the interlace passes' order; true after the last.
    private bool NextRow()
    {
        _x = 0;
        _y += _step;
        while (_y >= _box.Height)
        {
            switch (_pass)
            {
                case 1: (_y, _pass) = (4, 2); break;
                case 2: (_y, _step, _pass) = (2, 4, 3); break;
                case 3: (_y, _step, _pass) = (1, 2, 0); break;
                default: return true;
            }
        }

        _row = ((long)(_box.Y + _y) * _stride) + _box.X;
        return false;
    }
}
