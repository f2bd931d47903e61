// generation_config.json values that transformers judges only for some searches, kept with the options they came with.
using Blip.Engine.Config;

namespace Blip.Engine.Generation;

/// <summary>The refusals of a <c>generation_config.json</c> that wait for the search: a value transformers reads only
/// when sampling or only with beams, which the file's own search did not read, but which options set in code later
/// (<c>with { DoSample = true }</c>) would make it read. <see cref="GenerationOptions.Validate"/> judges them against the
/// final options, before any model work, with the message and key the file's read would have given.</summary>
/// <remarks>transformers 5.12.1's generate() copies the file's GenerationConfig, updates it with its keyword arguments and
/// only then builds its processors, so <c>generate(do_sample=True)</c> refuses a file's int temperature 2 and applies its
/// typical_p 0.5, and <c>generate(num_beams=3)</c> refuses its num_beam_groups 2 ("Group Beam Search requires
/// `trust_remote_code=True`"). A value set in code replaces the file's (<c>generate(temperature=1.5)</c> samples), so
/// setting <see cref="GenerationOptions.Temperature"/> or <see cref="GenerationOptions.TopK"/> drops that key's check
/// (<see cref="Without"/>). Immutable, compared by value, so that <c>with</c> carries it and equal files give equal
/// options.</remarks>
internal sealed class GenerationFileChecks : IEquatable<GenerationFileChecks>
{
    /// <summary>The search that makes transformers read a key.</summary>
    public enum Search { Sampling, Beams }

    /// <summary>One deferred refusal: the file and key to name, when it applies, and the message.</summary>
    private readonly record struct Check(string Source, string Key, Search ReadBy, string Problem);

    private readonly Check[] checks;

    private GenerationFileChecks(Check[] checks) => this.checks = checks;

    /// <summary><paramref name="to"/> (null: none yet) with the refusal of <paramref name="key"/> of
    /// <paramref name="source"/> for when <paramref name="readBy"/> runs.</summary>
    public static GenerationFileChecks Add(GenerationFileChecks? to, string source, string key, Search readBy, string problem) =>
        new([.. to?.checks ?? [], new Check(source, key, readBy, problem)]);

    /// <summary>These checks without those of <paramref name="key"/>, whose value code has replaced; null when none is left.</summary>
    public GenerationFileChecks? Without(string key) =>
        checks.Any(c => c.Key == key) ? checks.Where(c => c.Key != key).ToArray() is { Length: > 0 } rest ? new(rest) : null : this;

    /// <summary>Throws the <see cref="ConfigException"/> of the first check that <paramref name="options"/>' search reads.</summary>
    public void Verify(GenerationOptions options)
    {
        foreach (var c in checks)
            if (Reads(c.ReadBy, options)) throw new ConfigException(c.Source, c.Key, c.Problem);
    }

    /// <summary>Whether <paramref name="search"/> runs with <paramref name="options"/>: transformers' sampling warpers are
    /// built with do_sample (beams or not), its group beam search only with more than one beam.</summary>
    public static bool Reads(Search search, GenerationOptions options) => search switch
    {
        Search.Sampling => options.DoSample,
        _ => options.NumBeams > 1,
    };

    /// <inheritdoc/>
    public bool Equals(GenerationFileChecks? other) => other is not null && checks.SequenceEqual(other.checks);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as GenerationFileChecks);

    /// <inheritdoc/>
    public override int GetHashCode() => checks.Aggregate(checks.Length, (h, c) => HashCode.Combine(h, c));
}
