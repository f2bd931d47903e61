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

    /// <summary>Every workload name that <c>--only</c> takes (the names <see cref="Wants"/> is asked with).</summary>
    public static readonly string[] Workloads =
    [
        "preprocess", "vision_b1", "vision_b8", "decoder_step", "greedy20", "beam3", "greedy20_b8",
        "itm_pair", "itc_1000", "rank_1000", "limits",
    ];

    public const string Usage =
        "usage: SpeedHarness --model DIR [--family caption|itm|dtype-pairs|batch-pairs|rowgroup-pairs|floor-rounds] [--threads N] " +
        "[--repeat N] [--only WORKLOAD...] [--dtype float32|bfloat16] [--device cpu|cuda] [--texts FILE] [--itc-batch N]";

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
                case "--threads": o = o with { Threads = Positive(args[i], Next()) }; break;
                case "--repeat": o = o with { Repeat = Positive(args[i], Next()) }; break;
                case "--dtype":
                    o = o with
                    {
                        DType = Next() switch
                        {
                            "bfloat16" or "bf16" => ScalarType.BFloat16,
                            "float32" or "fp32" => ScalarType.Float32,
                            var d => throw new ArgumentException($"--dtype must be float32 or bfloat16, got {d}"),
                        },
                    };
                    break;
                case "--device": o = o with { Device = Next() }; break;
                case "--texts": o = o with { Texts = Next() }; break;
                case "--itc-batch": o = o with { ItcBatch = Positive(args[i], Next()) }; break;
                case "--only":
                    while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        string name = args[++i];
                        if (!Workloads.Contains(name))
                            throw new ArgumentException($"--only: unknown workload {name}; the workloads are {string.Join(", ", Workloads)}");
                        only.Add(name);
                    }
                    break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }
        if (o.Model.Length == 0) throw new ArgumentException("--model DIR is required");
        if (o.Family is not ("caption" or "itm" or "dtype-pairs" or "batch-pairs" or "rowgroup-pairs" or "floor-rounds"))
            throw new ArgumentException($"--family must be caption, itm, dtype-pairs, batch-pairs, rowgroup-pairs or floor-rounds, got {o.Family}");
        return o with { Only = only };
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : throw new ArgumentException($"{option} must be a positive integer, got {value}");
}
