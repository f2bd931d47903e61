// A one-line-per-file text progress bar (bytes, percent, MB/s) for HubDownloadProgress, written to stderr.
using System.Globalization;
using System.Text;

namespace Blip.Engine.Checkpoints;

/// <summary>Renders <see cref="HubDownloadProgress"/> as a progress bar on a text writer (stderr by default).</summary>
/// <remarks>
/// Redraws the current line with a carriage return at most every <see cref="MinInterval"/>, and ends the line when
/// a file completes. Reports arrive on the downloading thread (it is not a <see cref="Progress{T}"/>, which would
/// post them to the thread pool out of order).
/// </remarks>
public sealed class HubConsoleProgress : IProgress<HubDownloadProgress>
{
    private const int BarWidth = 24;
    private readonly TextWriter _writer;
    private readonly Lock _gate = new();
    private long _lastDrawTicks = long.MinValue;

    /// <summary>Creates a renderer writing to <paramref name="writer"/>, or to <see cref="Console.Error"/>.</summary>
    /// <param name="writer">Where to draw; null for standard error.</param>
    public HubConsoleProgress(TextWriter? writer = null)
    {
        _writer = writer ?? Console.Error;
    }

    /// <summary>Shortest time between two redraws of an unfinished file (default 100 ms).</summary>
    public TimeSpan MinInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <inheritdoc/>
    public void Report(HubDownloadProgress value)
    {
        lock (_gate)
        {
            long now = Environment.TickCount64;
            if (!value.Completed && _lastDrawTicks != long.MinValue && now - _lastDrawTicks < MinInterval.TotalMilliseconds)
                return;
            _lastDrawTicks = value.Completed ? long.MinValue : now;
            _writer.Write('\r' + Format(value) + (value.Completed ? Environment.NewLine : ""));
            _writer.Flush();
        }
    }

    /// <summary>The text of one progress line, e.g. <c>model.safetensors [#####.....]  45.0% 12.3/27.3 MB 8.10 MB/s</c>.</summary>
    /// <param name="value">The report to format.</param>
    public static string Format(HubDownloadProgress value)
    {
        var text = new StringBuilder(value.FileName).Append(' ');
        double? percent = value.Percent;
        if (percent is double p)
        {
            int filled = (int)Math.Clamp(Math.Round(p / 100 * BarWidth), 0, BarWidth);
            text.Append('[').Append('#', filled).Append('.', BarWidth - filled).Append(']')
                .Append(CultureInfo.InvariantCulture, $" {p,5:F1}% {Mb(value.BytesReceived)}/{Mb(value.TotalBytes!.Value)} MB");
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture, $"{Mb(value.BytesReceived)} MB");
        }
        return text.Append(CultureInfo.InvariantCulture, $" {value.BytesPerSecond / 1e6:F2} MB/s").ToString();
    }

    private static string Mb(long bytes) => (bytes / 1e6).ToString("F1", CultureInfo.InvariantCulture);
}
