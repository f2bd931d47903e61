using System.Text.Json;
using System.Text.Json.Serialization;
using Blip.Engine.Checkpoints;
using Blip.Engine.Generation;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>The generate() cases of <c>Fixtures/generation</c> (tools/reference/make_generation_fixtures.py).</summary>
public sealed record GenerationCase(string Name, string Model, string Inputs, GenerationOptions Options)
{
    /// <summary>Every case of expected.json.</summary>
    public static IEnumerable<GenerationCase> All()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("generation", "expected.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateObject())
            yield return new GenerationCase(c.Name, c.Value.GetProperty("model").GetString()!, c.Value.GetProperty("inputs").GetString()!,
                FromKwargs(c.Value.GetProperty("kwargs"), c.Value.TryGetProperty("seed", out _) ? 1234 : null));
    }

    /// <summary>The generate() cases of <c>Fixtures/tiny</c> (make_fixtures.py's GENERATE), named as their ids there.</summary>
    public static IEnumerable<GenerationCase> Tiny()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tiny", "expected.json")));
        foreach (var model in doc.RootElement.GetProperty("models").EnumerateObject())
        {
            if (!model.Value.TryGetProperty("generate", out var cases)) continue;
            foreach (var c in cases.EnumerateObject())
            {
                string inputs = c.Value.GetProperty("call").GetString()!.Contains("input_ids=captioning", StringComparison.Ordinal) ? "prompt" : "images";
                yield return new GenerationCase(c.Name, model.Name, inputs, FromKwargs(c.Value.GetProperty("kwargs"), null));
            }
        }
    }

    /// <summary>transformers kwargs → options, through the same reader as generation_config.json.</summary>
    public static GenerationOptions FromKwargs(JsonElement kwargs, long? seed) =>
        GenerationOptions.Parse(kwargs.GetRawText(), "kwargs") with { Seed = seed };

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>One case of <c>Fixtures/generation/sweep.json</c> (tools/reference/make_generation_sweep.py): transformers'
/// returned ids (and beam scores), or <see cref="Refused"/>, its ValueError, when it refuses the options;
/// <see cref="Unsupported"/> names a transformers option of the case that Blip.Engine must refuse.</summary>
public sealed record SweepCase(string Name, string Model, string Inputs, JsonElement Kwargs, long? Seed,
    long[][]? Ids, float[]? Scores, string? Refused, string? Unsupported)
{
    // The script writes a NaN or infinite beam score as "NaN", "Infinity" or "-Infinity".
    private static readonly JsonSerializerOptions ScoreNumbers = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Every case of sweep.json, in order, then those of nonfinite/sweep.json (one case of a wider draw whose
    /// beam scores are NaN), named <c>nonfinite/sweep.N</c>.</summary>
    public static IEnumerable<SweepCase> All() =>
        Read(TestPaths.Fixture("generation", "sweep.json"), "").Concat(Read(TestPaths.Fixture("generation", "nonfinite", "sweep.json"), "nonfinite/"));

    private static IEnumerable<SweepCase> Read(string path, string prefix)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateObject())
        {
            var v = c.Value;
            yield return new SweepCase(prefix + c.Name, v.GetProperty("model").GetString()!, v.GetProperty("inputs").GetString()!,
                v.GetProperty("kwargs").Clone(), v.TryGetProperty("seed", out var seed) ? seed.GetInt64() : null,
                v.TryGetProperty("ids", out var ids) ? ids.Deserialize<long[][]>() : null,
                v.TryGetProperty("scores", out var scores) ? scores.Deserialize<float[]>(ScoreNumbers) : null,
                v.TryGetProperty("refused", out var refused) ? refused.GetString() : null,
                v.TryGetProperty("unsupported", out var unsupported) ? unsupported.GetString() : null);
        }
    }

    /// <summary>The case as a <see cref="GenerationCase"/>; throws <see cref="Blip.Engine.Config.ConfigException"/>
    /// naming the key where the options themselves are invalid.</summary>
    public GenerationCase ToGenerationCase() => new(Name, Model, Inputs, GenerationCase.FromKwargs(Kwargs, Seed));

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Model}/{Inputs} {Kwargs.GetRawText()}";
}

/// <summary>Opens <c>Fixtures/generation/expected.safetensors</c>.</summary>
public sealed class GenerationFixtures : IDisposable
{
    private readonly SafeTensorsFile expected = SafeTensorsFile.Open(TestPaths.Fixture("generation", "expected.safetensors"));

    /// <summary>A tensor by name; fails the test when absent.</summary>
    public Tensor Get(string name)
    {
        if (!expected.Tensors.ContainsKey(name)) Assert.Fail($"generation/expected.safetensors has no tensor '{name}'");
        return expected.Load(name);
    }

    /// <summary>Whether the file holds <paramref name="name"/>.</summary>
    public bool Has(string name) => expected.Tensors.ContainsKey(name);

    /// <summary>The 2 tiny images + 2 derived ones, as the script builds them.</summary>
    public static Tensor FourImages(Tensor pixelValues) =>
        cat([pixelValues, pixelValues[..1].flip(3), pixelValues[1..2] * -0.5], dim: 0);

    /// <inheritdoc/>
    public void Dispose() => expected.Dispose();
}
