// Command-line options of the speed harness.
using static TorchSharp.torch;

namespace Blip.SpeedHarness;

/// <summary>What to run, parsed from the command line.</summary>
internal sealed record HarnessOptions
{
    public string Model { get; init; } = "";
    public string Family { get; init; } = "caption";
    public int Threads { get; init; } = 2;
    public int Repeat { get; init; } = 2;
    public IReadOnlyList<string> Only { get; init; } = [];
    public ScalarType DType { get; init; } = ScalarType.Float32;
    public string Device { get; init; } = "cpu";
    public string? Texts { get; init; }
    public int ItcBatch { get; init; } = 250;

    public bool Wants(string workload) => Only.Count == 0 || Only.Contains(workload);

    public static HarnessOptions Parse(string[] args)
    {
        var o = new HarnessOptions();
        var only = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--model": o = o with { Model = Next() }; break;
                case "--family": o = o with { Family = Next() }; break;
                case "--threads": o = o with { Threads = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) }; break;
                case "--repeat": o = o with { Repeat = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) }; break;
                case "--dtype": o = o with { DType = Next() is "bfloat16" or "bf16" ? ScalarType.BFloat16 : ScalarType.Float32 }; break;
                case "--device": o = o with { Device = Next() }; break;
                case "--texts": o = o with { Texts = Next() }; break;
                case "--itc-batch": o = o with { ItcBatch = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) }; break;
                case "--only":
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) only.Add(args[++i]);
                    break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }
        if (o.Model.Length == 0) throw new ArgumentException("--model DIR is required");
        if (o.Family is not ("caption" or "itm" or "dtype-pairs" or "batch-pairs" or "floor-rounds"))
            throw new ArgumentException($"--family must be caption, itm, dtype-pairs, batch-pairs or floor-rounds, got {o.Family}");
        return o with { Only = only };
    }
}
