// JSON lines on stdout, timing and peak RSS.
using System.Diagnostics;
using System.Text.Json;

namespace Blip.SpeedHarness;

/// <summary>Writes the harness's JSON lines.</summary>
internal static class Emit
{
    public static void Line(Dictionary<string, object> fields) => Console.WriteLine(JsonSerializer.Serialize(fields));

    /// <summary>Runs <paramref name="action"/> <paramref name="repeat"/> times, one sample line each.</summary>
    public static void Timed(string workload, int repeat, Action action, Action sync, int images = 1)
    {
        for (int r = 0; r < repeat; r++)
        {
            sync();
            long start = Stopwatch.GetTimestamp();
            action();
            sync();
            Sample(workload, Stopwatch.GetElapsedTime(start).TotalSeconds, images);
        }
    }

    public static void Sample(string workload, double seconds, int images = 1) =>
        Line(new() { ["kind"] = "sample", ["workload"] = workload, ["seconds"] = seconds, ["images"] = images });

    /// <summary>The process's peak resident set (VmHWM), as python's ru_maxrss.</summary>
    public static long PeakRssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
