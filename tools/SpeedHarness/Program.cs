// The Blip.Engine side of tools/reference/compare_speed: the same workloads as compare_speed_ref.py, one process,
// one JSON object per line on stdout. Usage:
//   SpeedHarness --model DIR --family caption|itm|dtype-pairs|batch-pairs|floor-rounds [--threads 2] [--repeat 2] [--only NAME...] [--dtype float32|bfloat16]
//                [--device cpu|cuda] [--texts FILE]
using Blip.SpeedHarness;
using TorchSharp;

var options = HarnessOptions.Parse(args);
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
    return;
}

if (options.Family == "batch-pairs")
{
    PairedRounds.Batches(options, device);
    return;
}

if (options.Family == "floor-rounds")
{
    PairedRounds.Floors(options, device);
    return;
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
