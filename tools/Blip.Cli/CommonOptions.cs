using System.CommandLine;
using Blip.Engine.Checkpoints;
using Blip.Engine.Generation;
using Blip.Engine.Pipelines;

namespace Blip.Cli;

/// <summary>Options shared by several commands; each command gets its own instances.</summary>
public sealed class CommonOptions
{
    public Option<string> Model { get; }
    public Option<string> Device { get; } = new("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
    public Option<string> DType { get; } = new("--dtype") { Description = "float32, bfloat16 or float16", DefaultValueFactory = _ => "float32" };
    public Option<string> Format { get; } = new("--format") { Description = "text, json or jsonl", DefaultValueFactory = _ => "text" };
    public Option<bool> Verbose { get; } = new("--verbose") { Description = "stack traces on failure" };

    public CommonOptions(string defaultModel)
    {
        Model = new Option<string>("--model") { Description = "model folder or Hugging Face id", DefaultValueFactory = _ => defaultModel };
        Model.Validators.Add(r => { if (string.IsNullOrWhiteSpace(r.GetValueOrDefault<string>())) r.AddError("--model must name a model folder or a Hugging Face id, got an empty value"); });
        Format.AcceptOnlyFromAmong("text", "json", "jsonl");
        Device.Validators.Add(r =>
        {
            var value = r.GetValueOrDefault<string>();
            bool cudaN = value.StartsWith("cuda:", StringComparison.Ordinal) && value.Length is > 5 and < 9 && value[5..].All(char.IsAsciiDigit);
            if (value is not ("cpu" or "cuda") && !cudaN) r.AddError($"--device: '{value}' is not cpu, cuda or cuda:N");
        });
        DType.AcceptOnlyFromAmong("float32", "bfloat16", "float16");
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Device);
        command.Options.Add(DType);
        command.Options.Add(Format);
        command.Options.Add(Verbose);
    }

    public BlipLoadOptions LoadOptions(ParseResult result, TextWriter stderr) => new()
    {
        Device = result.GetValue(Device)!,
        DType = result.GetValue(DType)!,
        DownloadProgress = new HubConsoleProgress(stderr),
    };
}

/// <summary>Generation options: beams, lengths, penalties, sampling.</summary>
public sealed class GenerationCliOptions
{
    public Option<int?> Beams { get; } = new("--beams") { Description = "beam search with N beams" };
    public Option<int?> MaxLength { get; } = new("--max-length") { Description = "longest output in tokens, bos and prompt included" };
    public Option<int?> MaxNewTokens { get; } = new("--max-new-tokens") { Description = "most tokens after bos and prompt (instead of --max-length)" };
    public Option<int?> MinLength { get; } = new("--min-length") { Description = "shortest output in tokens" };
    public Option<double?> RepetitionPenalty { get; } = new("--repetition-penalty") { Description = "penalty > 1 discourages repeats" };
    public Option<bool> Sample { get; } = new("--sample") { Description = "sample instead of greedy/beam search" };
    public Option<int?> TopK { get; } = new("--top-k") { Description = "sampling: keep the K most likely tokens" };
    public Option<double?> TopP { get; } = new("--top-p") { Description = "sampling: nucleus probability" };
    public Option<double?> Temperature { get; } = new("--temperature") { Description = "sampling temperature" };
    public Option<long?> Seed { get; } = new("--seed") { Description = "seed that makes sampling repeatable" };

    public GenerationCliOptions()
    {
        Require(Beams, v => v is >= 1 and <= GenerationOptions.MaxWidth, $"must be in [1, {GenerationOptions.MaxWidth}]");
        Require(MaxLength, v => v >= 2, "must be at least 2 (bos counts, and one token must follow it)");
        Require(MaxNewTokens, v => v >= 1, "must be at least 1");
        Require(MinLength, v => v >= 0, "must not be negative");
        Require(TopK, v => v >= 0, "must not be negative");
        Require(TopP, v => v >= 0, "must not be negative (1 or more disables it)");
        Require(Temperature, v => v > 0, "must be positive");
        Require(RepetitionPenalty, v => v > 0, "must be positive");
    }

    // Range errors are usage errors found at parse time, before any model is opened.
    private static void Require<T>(Option<T?> option, Func<T, bool> valid, string rule) where T : struct =>
        option.Validators.Add(r =>
        {
            if (TryValue<T?>(r, out var parsed) && parsed is { } value && !valid(value)) r.AddError($"{option.Name} {rule}, got {value}");
        });

    /// <summary>The option's value, or false where its token did not parse as <typeparamref name="T"/>: then
    /// GetValueOrDefault throws inside a validator, and the parser already reports the token as a usage error.</summary>
    internal static bool TryValue<T>(System.CommandLine.Parsing.OptionResult result, out T? value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Beams, MaxLength, MaxNewTokens, MinLength, RepetitionPenalty, Sample, TopK, TopP, Temperature, Seed })
            command.Options.Add(option);
    }

    /// <summary>The checkpoint's defaults overridden by what the command line says; invalid values are usage errors.</summary>
    /// <remarks>An option that would change nothing is refused, as the other commands' are: both length limits (the
    /// new-token count wins in transformers), or a sampling setting when nothing samples. A length limit given here
    /// replaces the checkpoint's of either kind (its max_new_tokens or min_new_tokens would win over --max-length or
    /// --min-length).</remarks>
    public GenerationOptions Apply(ParseResult r, GenerationOptions defaults)
    {
        if (r.GetValue(MaxLength) is not null && r.GetValue(MaxNewTokens) is not null)
            throw new UsageException($"{MaxLength.Name} and {MaxNewTokens.Name} both limit the length: give one");
        bool sample = r.GetValue(Sample) || defaults.DoSample;
        if (!sample && new Option[] { TopK, TopP, Temperature, Seed }.FirstOrDefault(o => r.GetResult(o) is { Implicit: false }) is { } unused)
            throw new UsageException($"{unused.Name} applies to sampling only: add --sample");
        var options = defaults with
        {
            NumBeams = r.GetValue(Beams) ?? defaults.NumBeams,
            // The command line's limit replaces the checkpoint's, whichever kind that was.
            MaxLength = r.GetValue(MaxLength) ?? (r.GetValue(MaxNewTokens) is null ? defaults.MaxLength : null),
            MaxNewTokens = r.GetValue(MaxNewTokens) ?? (r.GetValue(MaxLength) is null ? defaults.MaxNewTokens : null),
            MinLength = r.GetValue(MinLength) ?? defaults.MinLength,
            RepetitionPenalty = r.GetValue(RepetitionPenalty) ?? defaults.RepetitionPenalty,
            DoSample = sample,
            TopP = r.GetValue(TopP) ?? defaults.TopP,
            Seed = r.GetValue(Seed) ?? defaults.Seed,
        };
        // Set only when given: setting MinNewTokens, TopK or Temperature replaces the checkpoint's value and drops what
        // the library keeps to judge it (a float min_new_tokens, a float top_k, an int temperature for --sample).
        // Likewise --min-length replaces a checkpoint's min_new_tokens, which would otherwise win over it.
        if (r.GetValue(MinLength) is not null) options = options with { MinNewTokens = null };
        if (r.GetValue(TopK) is { } topK) options = options with { TopK = topK };
        if (r.GetValue(Temperature) is { } temperature) options = options with { Temperature = temperature };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        return options;
    }
}
