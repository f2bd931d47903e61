// Text files of a model folder, read as transformers reads them: open(path, encoding="utf-8").
using System.Buffers;
using System.Text.Unicode;

namespace Blip.Engine.Config;

/// <summary>Reads text files (JSON configs, tokenizer files, vocab.txt, datasets) as UTF-8, refusing bytes that are
/// not UTF-8 as python's decoder and serde do, instead of reading them as U+FFFD (a silently different token or
/// string). A leading byte-order mark is skipped (python would keep it as a character and then fail or misread the
/// first token).</summary>
internal static class Utf8Text
{
    private static ReadOnlySpan<byte> Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>The text of <paramref name="path"/>.</summary>
    /// <exception cref="ConfigException">A byte sequence is not UTF-8; names the file, the byte offset and the line.</exception>
    internal static string Read(string path)
    {
        ReadOnlySpan<byte> bytes = File.ReadAllBytes(path);
        int start = bytes.StartsWith(Bom) ? 3 : 0;
        var chars = new char[bytes.Length - start]; // a UTF-8 byte gives at most one UTF-16 char
        if (Utf8.ToUtf16(bytes[start..], chars, out _, out int written, replaceInvalidSequences: false) == OperationStatus.Done)
            return new string(chars, 0, written);
        throw new ConfigException(path, "", FindProblem(path) ?? "is not UTF-8 text");
    }

    /// <summary>Where <paramref name="path"/> stops being UTF-8 (the byte, its offset and its 1-based line), for a
    /// message; null when it is UTF-8 throughout. Reads the file in blocks.</summary>
    internal static string? FindProblem(string path)
    {
        using var stream = File.OpenRead(path);
        var bytes = new byte[1 << 16];
        var chars = new char[bytes.Length];
        long done = 0, line = 1;
        int carried = 0;
        while (true)
        {
            int n = stream.Read(bytes, carried, bytes.Length - carried);
            int length = carried + n;
            var status = Utf8.ToUtf16(bytes.AsSpan(0, length), chars, out int read, out _, replaceInvalidSequences: false, isFinalBlock: n == 0);
            line += bytes.AsSpan(0, read).Count((byte)'\n');
            if (status == OperationStatus.InvalidData)
                return Problem(bytes[read], done + read, line);
            if (n == 0)
                return null;
            done += read;
            carried = length - read; // the start of a character that the next block completes
            bytes.AsSpan(read, carried).CopyTo(bytes);
        }
    }

    private static string Problem(byte value, long offset, long line) =>
        $"is not UTF-8 text: byte 0x{value:X2} at byte offset {offset} (line {line}) is not part of a valid UTF-8 sequence";
}
