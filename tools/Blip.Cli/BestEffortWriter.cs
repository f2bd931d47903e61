namespace Blip.Cli;

/// <summary>Standard error for progress and error lines: once a write fails (closed by the shell with <c>2&gt;&amp;-</c>,
/// a broken pipe), further lines are dropped, so the command still writes its results and returns its exit code.</summary>
/// <remarks>Hand-written: .NET has no console writer that tolerates a closed handle (its writes throw IOException, and
/// a second throw from an error handler aborted the process with SIGABRT).</remarks>
public sealed class BestEffortWriter(TextWriter inner) : TextWriter
{
    private bool broken;

    public override System.Text.Encoding Encoding => inner.Encoding;

    public override void Write(char value) => Try(() => inner.Write(value));

    public override void Write(string? value) => Try(() => inner.Write(value));

    public override void WriteLine(string? value) => Try(() => inner.WriteLine(value));

    public override void Flush() => Try(inner.Flush);

    private void Try(Action write)
    {
        if (broken) return;
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            broken = true;
        }
    }
}
