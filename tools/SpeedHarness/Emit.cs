// JSON lines on stdout, timing and peak RSS.
using System.Diagnostics;
using System.Text.Json;

namespace Blip.SpeedHarness;

/// <summary>Writes the harness's JSON lines.</summary>
internal static class Emit
{
    public static void Line(Dictionary<string, object> fields) => Console.WriteLine(JsonSerializer.Serialize(fields));

    /// <summary>Runs <paramref name="action"/> <paramref name="repeat"/> times, one sample line each. With
    /// <paramref name="limit"/>, each sample also carries the machine's fp32 matmul rate measured just before it
    /// (<c>matmul_gflops</c>): on a shared VM the rate drifts by tens of percent within a minute, so a share of
    /// "the limit" is only meaningful against a limit measured at the same moment.</summary>
    public static void Timed(string workload, int repeat, Action action, Action sync, int images = 1, Func<double>? limit = null)
    {
        for (int r = 0; r < repeat; r++)
        {
            double? gflops = limit?.Invoke();
            sync();
            long start = Stopwatch.GetTimestamp();
            action();
            sync();
            Sample(workload, Stopwatch.GetElapsedTime(start).TotalSeconds, images, gflops);
        }
    }

    /// <summary>One measured fact of this process (a limit, a paired ratio).</summary>
    public static void Fact(string name, double value) =>
        Line(new() { ["kind"] = "fact", ["name"] = name, ["value"] = value });

    public static void Sample(string workload, double seconds, int images = 1, double? matmulGflops = null)
    {
        var fields = new Dictionary<string, object> { ["kind"] = "sample", ["workload"] = workload, ["seconds"] = seconds, ["images"] = images };
        if (matmulGflops is { } g) fields["matmul_gflops"] = g;
        Line(fields);
    }

    /// <summary>The process's peak resident set (VmHWM), as python's ru_maxrss.</summary>
    public static long PeakRssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
