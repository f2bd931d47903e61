using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>One case of <c>Fixtures/generation/config_cases.json</c> (tools/reference/make_generation_fixtures.py): a
/// generation_config.json text whose float field holds an int, a bool, a string or a value out of range, and what
/// transformers' generate() on the tiny captioning model made of it: ids (and beam scores) or its refusal.</summary>
public sealed record GenerationConfigCase(string Name, string Config, string Field, long? Seed, long[][]? Ids, float[]? Scores,
    string? Refused, string? EngineRefuses, string? Unsupported)
{
    /// <summary>Every case, in order.</summary>
    public static IEnumerable<GenerationConfigCase> All()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("generation", "config_cases.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateObject())
        {
            var v = c.Value;
            string? Text(string key) => v.TryGetProperty(key, out var p) ? p.GetString() : null;
            yield return new GenerationConfigCase(c.Name, Text("config")!, Text("field")!,
                v.TryGetProperty("seed", out var seed) ? seed.GetInt64() : null,
                v.TryGetProperty("ids", out var ids) ? ids.Deserialize<long[][]>() : null,
                v.TryGetProperty("scores", out var scores) ? scores.Deserialize<float[]>() : null,
                Text("refused"), Text("engine_refuses"), Text("unsupported"));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Config}";
}

/// <summary>generation_config.json files against transformers 5.12.1: the same refusals (it refuses an int temperature
/// only when sampling, an int repetition_penalty whenever it is not 1, and nothing at load), the same acceptances (top_p
/// 1.5 while sampling, an int length_penalty, typical_p 0.9 without sampling, diversity_penalty) and then the same ids.</summary>
public class GenerationConfigCaseTests
{
    [TestCaseSource(typeof(GenerationConfigCase), nameof(GenerationConfigCase.All))]
    public void Generation_config_equals_transformers(GenerationConfigCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        if ((c.EngineRefuses ?? c.Unsupported ?? c.Refused) is { } why)
        {
            var e = Assert.Throws<ConfigException>(() => GenerationOptions.Parse(c.Config, "generation_config.json"),
                $"{c.Name}: {why}");
            Assert.That(e!.Field, Is.EqualTo(c.Field), e.Message);
            return;
        }
        var options = GenerationOptions.Parse(c.Config, "generation_config.json") with { Seed = c.Seed };
        using var tiny = new TinyFixtures();
        using var result = TransformersParityTests.Run(new GenerationCase(c.Name, "captioning", "images", options), tiny);
        TensorAssert.Equal(tensor(c.Ids!.SelectMany(r => r).ToArray(), c.Ids!.Length, c.Ids![0].Length), result.Sequences, c.Name);
        if (c.Scores is null)
            Assert.That(result.SequenceScores, Is.Null, $"{c.Name}: scores without beam search");
        else
            TensorAssert.AllClose(tensor(c.Scores), tensor(result.SequenceScores!.ToArray()), 1e-4, 1e-6, $"{c.Name} scores");
    }
}
