using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>Absurd lengths, widths and temperatures: a clear <see cref="ArgumentException"/> naming the option, or
/// the same ids as a sane limit; never an overflow, a giant allocation or a raw libtorch error.</summary>
[NonParallelizable]
public class GenerationLimitsTests
{
    [Test]
    public void Max_new_tokens_near_int_max_saturates_instead_of_wrapping()
    {
        var options = new GenerationOptions { MaxNewTokens = int.MaxValue };
        Assert.That(options.EffectiveMaxLength(11), Is.EqualTo(int.MaxValue));
    }

    private static IEnumerable<TestCaseData> TooWide()
    {
        yield return new TestCaseData(new GenerationOptions { NumBeams = int.MaxValue }, "NumBeams");
        yield return new TestCaseData(new GenerationOptions { NumBeams = GenerationOptions.MaxWidth + 1 }, "NumBeams");
        yield return new TestCaseData(new GenerationOptions { DoSample = true, NumReturnSequences = GenerationOptions.MaxWidth + 1 }, "NumReturnSequences");
        yield return new TestCaseData(new GenerationOptions { DoSample = true, Temperature = 1e-300 }, "Temperature");
    }

    [TestCaseSource(nameof(TooWide))]
    public void Absurd_widths_and_temperatures_name_the_option(GenerationOptions options, string field)
    {
        ArgumentNullException.ThrowIfNull(options);
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.That(e!.ParamName, Is.EqualTo(field));
    }

    [TestCase(1, false)]
    [TestCase(3, false)]
    [TestCase(1, true)]
    [TestCase(3, true)]
    public void A_huge_max_length_gives_the_ids_of_the_position_limit_or_names_it(int beams, bool forbidEnd)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        int positions = model.Config.TextConfig.MaxPositionEmbeddings;
        // The longest sequence the decoder can produce: every position decoded once, plus the last token produced.
        // min_length past it forbids the end id throughout, so the captions run into the limit.
        var sane = new GenerationOptions { NumBeams = beams, MaxLength = positions + 1, NoRepeatNgramSize = 2, MinLength = forbidEnd ? 1000 : 0 };
        using var bounded = model.Generate(pixels, options: sane);
        bool allEnded = bounded.Tokens.All(t => t.Length < positions + 1 || t[^1] == 102);
        Assert.That(allEnded, Is.EqualTo(!forbidEnd), "the tiny captioner ends its captions early unless the end id is forbidden");
        foreach (var huge in new[] { sane with { MaxLength = int.MaxValue }, sane with { MaxLength = 1, MaxNewTokens = int.MaxValue } })
        {
            if (allEnded)
            {
                using var result = model.Generate(pixels, options: huge);
                Assert.That(result.Tokens.Select(t => string.Join(",", t)), Is.EqualTo(bounded.Tokens.Select(t => string.Join(",", t))),
                    "every caption ended before the position limit, so a larger max_length changes nothing");
            }
            else
            {
                // transformers fails the same way: the position embedding has no row for the next position.
                var e = Assert.Throws<ArgumentException>(() => model.Generate(pixels, options: huge).Dispose());
                Assert.That(e!.Message, Does.Contain("max_position_embeddings"));
            }
        }
    }

    [Test]
    public void A_temperature_that_overflows_the_scores_is_named()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var options = new GenerationOptions { DoSample = true, Seed = 3, Temperature = 1e-38, TopK = 0 };
        var e = Assert.Throws<ArgumentException>(() => model.Generate(fixtures.Get("pixel_values"), options: options).Dispose());
        Assert.That(e!.ParamName, Is.EqualTo("Temperature"), e.Message);
    }
}
