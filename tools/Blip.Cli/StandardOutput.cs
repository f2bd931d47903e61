using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Blip.Cli;

/// <summary>Standard output as a writer that reports a reader gone away.</summary>
/// <remarks>On Unix, .NET's console writer drops the EPIPE of a pipe whose reader has closed
/// (<c>blip caption DIR | head -n 1</c>): the command went on captioning into nothing and exited 0. A FileStream on
/// descriptor 1 throws IOException for it (the runtime ignores SIGPIPE), which ResultWriter makes a failure (exit 1)
/// at the first result that cannot be written. But a FileStream writes a seekable file (<c>blip ... &gt; FILE</c>) at
/// its own position (pwrite) and never moves the descriptor's offset, which the shell shares among the commands of one
/// redirection: <c>{ blip ...; echo done; } &gt; FILE</c> had "done" overwrite the first results. A seekable standard
/// output (a file, where no EPIPE can come) is therefore written through the console stream, with write(2) as other
/// programs write, and only pipes, terminals and other streams through the FileStream. UTF-8 always, whatever the
/// locale, as JSON must be.</remarks>
internal static class StandardOutput
{
    public static TextWriter Open()
    {
        if (OperatingSystem.IsWindows()) return Console.Out;
        Stream stream;
        try
        {
            stream = new FileStream(new SafeFileHandle(1, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return Console.Out; // closed by the shell (>&-): the console writer's first write fails, as before
        }
        if (stream.CanSeek)
        {
            stream.Dispose(); // does not close descriptor 1 (ownsHandle: false)
            stream = Console.OpenStandardOutput();
        }
        return new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = true };
    }
}
