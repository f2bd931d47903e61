// The Blip.Engine side of tools/reference/compare_speed: the same workloads as compare_speed_ref.py, one process,
// one JSON object per line on stdout.
//   SpeedHarness --help (HarnessOptions.Usage); bad arguments are exit 2 with the usage.
using Blip.SpeedHarness;
using TorchSharp;

if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(HarnessOptions.Usage);
    return 0;
}
HarnessOptions options;
try
{
    options = HarnessOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"SpeedHarness: {e.Message}\n{HarnessOptions.Usage}");
    return 2;
}
torch.set_num_threads(options.Threads);
var device = new torch.Device(options.Device);
Emit.Line(new Dictionary<string, object>
{
    ["kind"] = "info", ["side"] = "blip-engine", ["threads"] = torch.get_num_threads(),
    ["dtype"] = options.DType.ToString(), ["device"] = options.Device,
    ["thp"] = Environment.GetEnvironmentVariable("THP_MEM_ALLOC_ENABLE") ?? "",
});
if (options.Family == "dtype-pairs")
{
    PairedRounds.DTypes(options, device);
    return 0;
}

if (options.Family == "batch-pairs")
{
    PairedRounds.Batches(options, device);
    return 0;
}

if (options.Family == "rowgroup-pairs")
{
    PairedRounds.RowGroups(options, device);
    return 0;
}

if (options.Family == "floor-rounds")
{
    PairedRounds.Floors(options, device);
    return 0;
}

var workloads = new Workloads(options, device);
var (load, rssLoaded, weightBytes) = options.Family == "caption" ? workloads.RunCaptioning() : workloads.RunRetrieval();
long peak = Emit.PeakRssBytes();  // before the limits, whose 1 GiB buffer is not the model's
if (options.Wants("limits")) Limits.Run(device, options.Repeat);
Emit.Line(new Dictionary<string, object>
{
    ["kind"] = "process", ["family"] = options.Family, ["load_seconds"] = load, ["rss_after_load_bytes"] = rssLoaded,
    ["peak_rss_bytes"] = peak, ["weight_bytes"] = weightBytes,
});
Console.Out.Flush();
return 0;
