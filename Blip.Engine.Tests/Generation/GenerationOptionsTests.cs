using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>Options: transformers' defaults, generation_config.json, validation naming the field.</summary>
public class GenerationOptionsTests
{
    [Test]
    public void Defaults_are_transformers_defaults()
    {
        var o = GenerationOptions.Default;
        Assert.That((o.MaxLength, o.MinLength, o.NumBeams, o.DoSample, o.TopK, o.TopP, o.Temperature, o.RepetitionPenalty,
            o.LengthPenalty, o.NoRepeatNgramSize, o.NumReturnSequences, o.EarlyStopping, o.MaxNewTokens),
            Is.EqualTo(((int?)null, 0, 1, false, 50, 1.0, 1.0, 1.0, 1.0, 0, 1, BeamEarlyStopping.Heuristic, (int?)null)));
    }

    [Test]
    public void Tiny_checkpoint_generation_config_sets_only_ids_so_defaults_stay()
    {
        Assert.That(GenerationOptions.FromPretrained(TinyFixtures.ModelFolder("captioning")), Is.EqualTo(GenerationOptions.Default));
        using var dir = TestPaths.NewTempDir();
        Assert.That(GenerationOptions.FromPretrained(dir.Path), Is.EqualTo(GenerationOptions.Default), "no file: defaults");
    }

    [Test]
    public void Generation_config_fields_are_read()
    {
        var o = GenerationOptions.Parse("""
            {"max_length": 30, "min_length": 5, "num_beams": 3, "early_stopping": "never", "length_penalty": 0.6,
             "no_repeat_ngram_size": 3, "repetition_penalty": 1.1, "do_sample": false, "top_k": null, "bos_token_id": 30522}
            """);
        Assert.That((o.MaxLength, o.MinLength, o.NumBeams, o.EarlyStopping, o.LengthPenalty, o.NoRepeatNgramSize, o.RepetitionPenalty, o.TopK),
            Is.EqualTo((30, 5, 3, BeamEarlyStopping.Never, 0.6, 3, 1.1, 50)));
        Assert.That(GenerationOptions.Parse("""{"early_stopping": true}""").EarlyStopping, Is.EqualTo(BeamEarlyStopping.WhenBeamsFinished));
        Assert.That(GenerationOptions.Parse("""{"min_new_tokens": 2}""").MinNewTokens, Is.EqualTo(2));
    }

    [TestCase("""{"do_sample": true, "top_p": -0.5}""", "top_p")]
    [TestCase("""{"early_stopping": "sometimes"}""", "early_stopping")]
    [TestCase("""{"num_beams": 2, "num_return_sequences": 3}""", "num_return_sequences")]
    [TestCase("""{"num_beams": "3"}""", "num_beams")]
    [TestCase("""{"max_length": 1e12}""", "max_length")]
    [TestCase("""{"do_sample": 1}""", "do_sample")]
    [TestCase("""{"temperature": [1]}""", "temperature")]
    [TestCase("""{"do_sample": true, "typical_p": 0.9}""", "typical_p")]
    [TestCase("""{"suppress_tokens": [229]}""", "suppress_tokens")]
    [TestCase("""{"renormalize_logits": true}""", "renormalize_logits")]
    [TestCase("""[1, 2]""", "")]
    [TestCase("""{"top_k": 5""", "")]
    public void Bad_generation_config_is_a_config_exception_naming_the_file_and_key(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => GenerationOptions.Parse(json, "gen.json"));
        Assert.That((e!.File, e.Field), Is.EqualTo(("gen.json", field)), e.Message);
        Assert.That(e.Message, Does.StartWith("gen.json: "));
    }

    [Test]
    public void A_model_folder_with_a_bad_generation_config_names_its_path()
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "generation_config.json");
        File.WriteAllText(path, """{"num_beams": 0}""");
        var e = Assert.Throws<ConfigException>(() => GenerationOptions.FromPretrained(dir.Path));
        Assert.That((e!.File, e.Field), Is.EqualTo((path, "num_beams")), e.Message);
    }

    [Test]
    public void Unimplemented_transformers_fields_at_their_off_values_are_accepted() =>
        Assert.That(GenerationOptions.Parse("""
            {"typical_p": 1.0, "min_p": null, "suppress_tokens": [], "renormalize_logits": false, "num_beam_groups": 1,
             "diversity_penalty": 0.0, "forced_eos_token_id": null, "output_scores": true, "use_cache": false}
            """), Is.EqualTo(GenerationOptions.Default));

    private static IEnumerable<TestCaseData> BadOptions()
    {
        yield return new TestCaseData(new GenerationOptions { DoSample = true, TopP = -0.1 }, "TopP");
        yield return new TestCaseData(new GenerationOptions { DoSample = true, TopP = double.NaN }, "TopP");
        yield return new TestCaseData(new GenerationOptions { DoSample = true, Temperature = 0 }, "Temperature");
        yield return new TestCaseData(new GenerationOptions { NumBeams = 0 }, "NumBeams");
        yield return new TestCaseData(new GenerationOptions { NumBeams = 2, NumReturnSequences = 3 }, "NumReturnSequences");
        yield return new TestCaseData(new GenerationOptions { NumReturnSequences = 2 }, "NumReturnSequences");
        yield return new TestCaseData(new GenerationOptions { MaxNewTokens = 0 }, "MaxNewTokens");
        yield return new TestCaseData(new GenerationOptions { RepetitionPenalty = -1 }, "RepetitionPenalty");
        yield return new TestCaseData(new GenerationOptions { DoSample = true, TopK = -1 }, "TopK");
        yield return new TestCaseData(new GenerationOptions { EarlyStopping = (BeamEarlyStopping)7 }, "EarlyStopping");
    }

    [TestCaseSource(nameof(BadOptions))]
    public void Validate_names_the_bad_field(GenerationOptions options, string field)
    {
        ArgumentNullException.ThrowIfNull(options);
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.That(e!.ParamName, Is.EqualTo(field));
    }

    [Test]
    public void Sampling_settings_are_not_judged_without_sampling()
    {
        // transformers: generate(temperature=0.0 | top_k=-1 | top_p=1.5) without do_sample gives the greedy ids.
        foreach (var options in new[] { new GenerationOptions { Temperature = 0 }, new GenerationOptions { TopK = -1 },
                     new GenerationOptions { TopP = 1.5, NumBeams = 3 } })
            Assert.DoesNotThrow(() => options.Validate(), options.ToString());
        Assert.That(GenerationOptions.Parse("""{"do_sample": false, "temperature": 0.0}""").Temperature, Is.EqualTo(0));
    }

    [Test]
    public void Max_new_tokens_wins_over_max_length()
    {
        Assert.That(new GenerationOptions { MaxLength = 20, MaxNewTokens = 6 }.EffectiveMaxLength(11), Is.EqualTo(17));
        Assert.That(new GenerationOptions { MaxLength = 20 }.EffectiveMaxLength(11), Is.EqualTo(20));
    }

    [Test]
    public void Min_new_tokens_wins_over_min_length()
    {
        Assert.That(new GenerationOptions { MinLength = 20, MinNewTokens = 0 }.EffectiveMinLength(11), Is.EqualTo(11));
        Assert.That(new GenerationOptions { MinLength = 5, MinNewTokens = 3 }.EffectiveMinLength(11), Is.EqualTo(14));
        Assert.That(new GenerationOptions { MinLength = 5 }.EffectiveMinLength(11), Is.EqualTo(5));
    }

    [Test]
    public void Without_a_max_length_twenty_new_tokens_follow_the_prompt_up_to_the_decoder_positions()
    {
        Assert.That(GenerationOptions.Default.EffectiveMaxLength(11), Is.EqualTo(11 + GenerationOptions.DefaultNewTokens));
        Assert.That(GenerationOptions.Default.EffectiveMaxLength(11, maxPositions: 512), Is.EqualTo(11 + GenerationOptions.DefaultNewTokens));
        Assert.That(GenerationOptions.Default.EffectiveMaxLength(60, maxPositions: 64), Is.EqualTo(64));
    }
}
