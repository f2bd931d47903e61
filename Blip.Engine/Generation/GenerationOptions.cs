// The knobs of transformers' GenerationConfig that Blip.Engine implements, with its defaults.
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Config;

namespace Blip.Engine.Generation;

/// <summary>Options of one <c>generate()</c> call, as transformers' <c>GenerationConfig</c>.</summary>
/// <remarks>Defaults are transformers' (<c>GenerationConfig._get_default_generation_params</c>): 20 new tokens (see
/// <see cref="MaxLength"/>), greedy, top_k 50 when sampling. <see cref="FromPretrained"/> applies a checkpoint's <c>generation_config.json</c>
/// over them; use <c>with</c> to override per call. End and pad ids are not options: BLIP's generate() always passes
/// <c>eos_token_id=sep_token_id</c> (102) and the text config's pad id.</remarks>
public sealed record GenerationOptions
{
    /// <summary>transformers' defaults.</summary>
    public static GenerationOptions Default { get; } = new();

    /// <summary>Most beams, and most sampled sequences per input, that <see cref="Validate"/> accepts: 512.</summary>
    public const int MaxWidth = 512;

    /// <summary>New tokens when neither <see cref="MaxLength"/> nor <see cref="MaxNewTokens"/> is set: 20.</summary>
    public const int DefaultNewTokens = 20;

    /// <summary>Longest returned sequence, prompt (and bos) included; it must exceed the prompt. Default null:
    /// <see cref="DefaultNewTokens"/> new tokens, at most the decoder's <c>max_position_embeddings</c> in all.</summary>
    /// <remarks>transformers 5 (<c>_prepare_generated_length</c>) counts its default max_length 20 from the end of the
    /// prompt when max_length is unset, and BLIP's decoder never has it set: its own generation config is made from the
    /// text config, whatever <c>generation_config.json</c> says.</remarks>
    public int? MaxLength
    {
        get => maxLength;
        init { maxLength = value; FileChecks = FileChecks?.Without("max_length"); }
    }

    private readonly int? maxLength;

    /// <summary>When set, the number of new tokens; it wins over <see cref="MaxLength"/> (max_length = prompt + this).</summary>
    /// <remarks>Setting it replaces generation_config.json's max_new_tokens, and the max_length transformers then
    /// replaces, and with them the refusal of a float one there once beams are on.</remarks>
    public int? MaxNewTokens
    {
        get => maxNewTokens;
        init { maxNewTokens = value; FileChecks = FileChecks?.Without("max_new_tokens")?.Without("max_length"); }
    }

    private readonly int? maxNewTokens;

    /// <summary>The end token is forbidden while the sequence (prompt included) is shorter than this. Default 0.</summary>
    public int MinLength { get; init; }

    /// <summary>When set, the end token is forbidden until this many new tokens; it wins over <see cref="MinLength"/>
    /// (min_length = prompt + this, as transformers' <c>_prepare_generated_length</c>). Default null.</summary>
    public int? MinNewTokens
    {
        get => minNewTokens;
        init { minNewTokens = value; FloatMinNewTokens = null; }
    }

    private readonly int? minNewTokens;

    /// <summary>A float min_new_tokens of generation_config.json at or below -1, read as a <see cref="MinNewTokens"/> of 0:
    /// transformers refuses it at generate() where it plus the input's length is above 0 (a float min_length). Setting
    /// <see cref="MinNewTokens"/> clears it.</summary>
    internal double? FloatMinNewTokens { get; init; }

    /// <summary>Beams; 1 is greedy search or sampling. Default 1.</summary>
    public int NumBeams { get; init; } = 1;

    /// <summary>Sample instead of taking the best token (multinomial sampling, or beam sampling with beams).</summary>
    public bool DoSample { get; init; }

    /// <summary>Sampling temperature (&gt; 0); 1 leaves the scores alone. Sampling only.</summary>
    /// <remarks>Setting it replaces generation_config.json's temperature, and with it the refusal of an int one there
    /// (transformers' <c>generate(temperature=1.5)</c> over a file's 2 samples).</remarks>
    public double Temperature
    {
        get => temperature;
        init { temperature = value; FileChecks = FileChecks?.Without("temperature"); }
    }

    private readonly double temperature = 1.0;

    /// <summary>Keep the k best tokens; 0 disables. Default 50. Sampling only.</summary>
    /// <remarks>Setting it replaces generation_config.json's top_k, and with it the refusal of a float or bool one there.</remarks>
    public int TopK
    {
        get => topK;
        init { topK = value; FileChecks = FileChecks?.Without("top_k"); }
    }

    private readonly int topK = 50;

    /// <summary>The refusals of the generation_config.json these options were read from that wait for the final search
    /// (a sampling-only value while the file does not sample, ...); <see cref="Validate"/> runs them. Null for options
    /// built in code.</summary>
    internal GenerationFileChecks? FileChecks { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches this; 1 (or more) disables.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>CTRL repetition penalty (&gt; 0) on every token already in the sequence; 1 disables.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Forbid repeating any n-gram of this size (prompt included); 0 disables.</summary>
    public int NoRepeatNgramSize { get; init; }

    /// <summary>Beam scores are divided by length^this (generated length). Default 1.</summary>
    public double LengthPenalty { get; init; } = 1.0;

    /// <summary>Beam search stopping rule. Default <see cref="BeamEarlyStopping.Heuristic"/> (transformers' false).</summary>
    public BeamEarlyStopping EarlyStopping { get; init; } = BeamEarlyStopping.Heuristic;

    /// <summary>Sequences returned per input (≤ <see cref="NumBeams"/> for beam search; sampling draws this many).</summary>
    /// <remarks>Setting it replaces generation_config.json's num_return_sequences, and with it the refusal of a float,
    /// 0 or a negative one there once beams are on.</remarks>
    public int NumReturnSequences
    {
        get => numReturnSequences;
        init { numReturnSequences = value; FileChecks = FileChecks?.Without("num_return_sequences"); }
    }

    private readonly int numReturnSequences = 1;

    /// <summary>Seed of a private sampling generator: the same draws as <c>torch.manual_seed(seed)</c> before
    /// transformers' generate() (same libtorch multinomial; checked against the reference). Null uses libtorch's
    /// global generator.</summary>
    public long? Seed { get; init; }

    /// <summary>Layout of prompts of different lengths (captioning). Default <see cref="PromptPadding.Transformers"/>.</summary>
    public PromptPadding PromptPadding { get; init; } = PromptPadding.Transformers;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option (as in transformers) that is out of range.</summary>
    /// <remarks>Options read from a generation_config.json then throw <see cref="ConfigException"/>, naming the file and
    /// key, for a value there that this search reads and transformers' generate() refuses (an int temperature when
    /// sampling, a float top_k) or that Blip.Engine does not implement (typical_p, min_p, ... when sampling, num_beam_groups
    /// with beams), although the file's own search did not read it: options set in code (<c>with { DoSample = true }</c>)
    /// make generate() read it, as the same keyword arguments do in transformers. Every generate() runs this first, before
    /// any model work.</remarks>
    public void Validate()
    {
        Require(MaxLength is null or > 0, nameof(MaxLength), "must be positive when set");
        Require(MaxNewTokens is null or > 0, nameof(MaxNewTokens), "must be positive when set");
        Require(MinLength >= 0, nameof(MinLength), "must not be negative");
        Require(MinNewTokens is null or >= 0, nameof(MinNewTokens), "must not be negative when set");
        Require(NumBeams is >= 1 and <= MaxWidth, nameof(NumBeams), $"must be in [1, {MaxWidth}]");
        // The sampling warpers' settings are judged only when sampling: transformers' greedy and beam search ignore them
        // (generate(temperature=0.0, top_k=-1, top_p=1.5) gives the greedy ids; it only refuses them with do_sample).
        if (DoSample)
        {
            // The scores are float32: a temperature that rounds to 0 there would divide by zero.
            Require((float)Temperature > 0 && double.IsFinite(Temperature), nameof(Temperature), $"must be a positive number (at least {float.Epsilon:R}, the smallest float32) when sampling, got {Temperature:R}");
            Require(TopK >= 0, nameof(TopK), "must not be negative when sampling (0 disables)");
            // transformers' TopPLogitsWarper takes 0 (then only the best token or two survive), whatever its message says;
            // it is not built for a top_p of 1 or more, so 1.5 samples as 1 does.
            Require(TopP >= 0, nameof(TopP), "must not be negative when sampling (1 or more disables it)");
        }
        Require(RepetitionPenalty > 0 && double.IsFinite(RepetitionPenalty), nameof(RepetitionPenalty), "must be a positive number");
        Require(NoRepeatNgramSize >= 0, nameof(NoRepeatNgramSize), "must not be negative (0 disables)");
        Require(double.IsFinite(LengthPenalty), nameof(LengthPenalty), "must be a finite number");
        Require(Enum.IsDefined(EarlyStopping), nameof(EarlyStopping), "is not a defined value");
        Require(Enum.IsDefined(PromptPadding), nameof(PromptPadding), "is not a defined value");
        Require(NumReturnSequences is >= 1 and <= MaxWidth, nameof(NumReturnSequences), $"must be in [1, {MaxWidth}]");
        if (NumBeams == 1 && !DoSample)
            Require(NumReturnSequences == 1, nameof(NumReturnSequences), "must be 1 for greedy search (transformers refuses it)");
        if (NumBeams > 1)
            Require(NumReturnSequences <= NumBeams, nameof(NumReturnSequences), $"must be at most NumBeams ({NumBeams})");
        FileChecks?.Verify(this);
    }

    /// <summary>The length limit for a prompt of <paramref name="promptLength"/> tokens, at most int.MaxValue
    /// (transformers: <c>max_new_tokens + input length</c> when max_new_tokens is set, else max_length, else
    /// <see cref="DefaultNewTokens"/> + input length but at most <paramref name="maxPositions"/> when known).</summary>
    public int EffectiveMaxLength(int promptLength, int? maxPositions = null)
    {
        if (MaxNewTokens is { } n) return (int)Math.Min(int.MaxValue, (long)promptLength + n);
        if (MaxLength is { } max) return max;
        long length = (long)promptLength + DefaultNewTokens;
        return (int)Math.Min(maxPositions is { } positions ? Math.Min(length, positions) : length, int.MaxValue);
    }

    /// <summary>The shortest sequence before the end token for a prompt of <paramref name="promptLength"/> tokens
    /// (transformers: <c>min_new_tokens + input length</c> when min_new_tokens is set, else min_length).</summary>
    public int EffectiveMinLength(int promptLength) =>
        MinNewTokens is { } n ? (int)Math.Min(int.MaxValue, (long)promptLength + n) : MinLength;

    /// <summary><see cref="Default"/> with the generation fields of <c>folder/generation_config.json</c> applied, or
    /// <see cref="Default"/> when the folder has none (ids such as eos/pad/bos are ignored: BLIP passes its own; a
    /// pad, bos or decoder_start id transformers fails on is refused).
    /// A file that cannot be used is a <see cref="ConfigException"/> naming its path and key, as a bad config.json is.</summary>
    public static GenerationOptions FromPretrained(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string path = Path.Combine(folder, "generation_config.json");
        return File.Exists(path) ? Parse(Utf8Text.Read(path), path) : Default;
    }

    /// <summary>Applies the fields of a <c>generation_config.json</c> text over <see cref="Default"/>.</summary>
    /// <remarks>Throws <see cref="ConfigException"/> naming <paramref name="source"/> and the key for a value of the wrong
    /// kind, a value <see cref="Validate"/> refuses, text that is not a JSON object, and a field of transformers'
    /// GenerationConfig that changes the ids but has no option here (typical_p, min_p, bad_words_ids, suppress_tokens,
    /// forced_eos_token_id, renormalize_logits, num_beam_groups, ...) unless it holds its "off" value: ignoring it would
    /// give other ids than transformers. Fields that do not change the ids (outputs, cache, ids BLIP passes itself) are
    /// ignored.</remarks>
    public static GenerationOptions Parse(string json, string source = "generation_config.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("not a JSON object"); }
        catch (JsonException e) { throw new ConfigException(source, "", e.Message, e); }
        return GenerationConfigReader.Apply(Default, root, source);
    }

    private static void Require(bool ok, string name, string problem)
    {
        if (!ok) throw Invalid(name, problem);
    }

    /// <summary>The exception for option <paramref name="name"/>, also for problems only generation finds.</summary>
    internal static ArgumentException Invalid(string name, string problem) =>
        new($"GenerationOptions.{name} {problem}.", name);
}
