using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>One case of <c>Fixtures/generation/config_cases.json</c> (tools/reference/make_generation_fixtures.py): a
/// generation_config.json text whose float field holds an int, a bool, a string or a value out of range, and what
/// transformers' generate() on the tiny captioning model made of it: ids (and beam scores) or its refusal.</summary>
public sealed record GenerationConfigCase(string Name, string Config, string Field, long? Seed, long[][]? Ids, float[]? Scores,
    string? Refused, string? EngineRefuses, string? Unsupported, JsonElement? Kwargs)
{
    /// <summary>The options read from <see cref="Config"/> with the case's generate() keyword arguments set in code over
    /// them, as user code does after loading (do_sample, num_beams, temperature, top_k).</summary>
    public GenerationOptions Options()
    {
        var o = GenerationOptions.Parse(Config, "generation_config.json") with { Seed = Seed };
        if (Kwargs is not { } kwargs) return o;
        foreach (var p in kwargs.EnumerateObject())
            o = p.Name switch
            {
                "do_sample" => o with { DoSample = p.Value.GetBoolean() },
                "num_beams" => o with { NumBeams = p.Value.GetInt32() },
                "temperature" => o with { Temperature = p.Value.GetDouble() },
                "top_k" => o with { TopK = p.Value.GetInt32() },
                "max_length" => o with { MaxLength = p.Value.GetInt32() },
                "max_new_tokens" => o with { MaxNewTokens = p.Value.GetInt32() },
                "num_return_sequences" => o with { NumReturnSequences = p.Value.GetInt32() },
                _ => throw new InvalidDataException($"{Name}: kwarg '{p.Name}' has no GenerationOptions property here"),
            };
        return o;
    }

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
                Text("refused"), Text("engine_refuses"), Text("unsupported"),
                v.TryGetProperty("kwargs", out var kwargs) ? kwargs.Clone() : null);
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
        if (c.Kwargs is not null && c.EngineRefuses is null && (c.Unsupported ?? c.Refused) is { } late)
        {
            // The file reads fine; the options set in code make generate() read the value, and it refuses it first thing.
            var options = c.Options();
            using var tinyModels = new TinyFixtures();
            var e = Assert.Throws<ConfigException>(() =>
                TransformersParityTests.Run(new GenerationCase(c.Name, "captioning", "images", options), tinyModels).Dispose(),
                $"{c.Name}: {late}");
            Assert.That((e!.File, e.Field), Is.EqualTo(("generation_config.json", c.Field)), e.Message);
            return;
        }
        if ((c.EngineRefuses ?? c.Unsupported ?? c.Refused) is { } why)
        {
            var e = Assert.Throws<ConfigException>(() => GenerationOptions.Parse(c.Config, "generation_config.json"),
                $"{c.Name}: {why}");
            Assert.That(e!.Field, Is.EqualTo(c.Field), e.Message);
            return;
        }
        using var tiny = new TinyFixtures();
        using var result = TransformersParityTests.Run(new GenerationCase(c.Name, "captioning", "images", c.Options()), tiny);
        TensorAssert.Equal(tensor(c.Ids!.SelectMany(r => r).ToArray(), c.Ids!.Length, c.Ids![0].Length), result.Sequences, c.Name);
        if (c.Scores is null)
            Assert.That(result.SequenceScores, Is.Null, $"{c.Name}: scores without beam search");
        else
            TensorAssert.AllClose(tensor(c.Scores), tensor(result.SequenceScores!.ToArray()), 1e-4, 1e-6, $"{c.Name} scores");
    }

    // transformers 5.12.1 on the tiny captioning prompts (input length 11): a float min_new_tokens m gives the float
    // min_length m + 11, refused where above 0 ('`min_length` has to be a non-negative integer, but is 10.0', '... is 1.0');
    // -11.0 builds no processor and gives the ids of {"max_new_tokens": 4}.
    private static readonly long[][] PromptMaxNew4 =
        [[1038, 1000, 1001, 1002, 102, 0, 0, 0, 0, 0, 0, 624, 102], [1038, 1003, 1004, 1005, 1006, 1007, 1000, 1008, 1009, 1010, 999, 102, 0]];

    [TestCase("-1.0")]
    [TestCase("-10.0")]
    [TestCase("-10.5")]
    public void Float_min_new_tokens_is_refused_where_it_plus_the_prompt_is_above_0(string minNew)
    {
        using var scope = NewDisposeScope();
        var options = GenerationOptions.Parse($"{{\"max_new_tokens\": 4, \"min_new_tokens\": {minNew}}}");
        using var tiny = new TinyFixtures();
        var e = Assert.Throws<ArgumentException>(() =>
            TransformersParityTests.Run(new GenerationCase("prompt", "captioning", "prompt", options), tiny).Dispose());
        Assert.That(e!.ParamName, Is.EqualTo(nameof(GenerationOptions.MinNewTokens)), e.Message);
    }

    [TestCase("{\"max_new_tokens\": 4, \"min_new_tokens\": -11.0}", null)]
    [TestCase("{\"max_new_tokens\": 4, \"min_new_tokens\": -1.0}", 0)]
    [TestCase("{\"max_new_tokens\": 4, \"min_new_tokens\": -1}", null)]
    public void Min_new_tokens_at_or_below_minus_the_prompt_gives_transformers_ids(string config, int? overridden)
    {
        using var scope = NewDisposeScope();
        var options = GenerationOptions.Parse(config);
        // Setting MinNewTokens replaces the file's float, and with it the refusal.
        if (overridden is { } n) options = options with { MinNewTokens = n };
        using var tiny = new TinyFixtures();
        using var result = TransformersParityTests.Run(new GenerationCase("prompt", "captioning", "prompt", options), tiny);
        TensorAssert.Equal(tensor(PromptMaxNew4.SelectMany(r => r).ToArray(), 2, 13), result.Sequences, config);
    }
}
