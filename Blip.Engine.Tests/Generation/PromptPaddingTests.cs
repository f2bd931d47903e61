using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary><see cref="PromptPadding.PerSequence"/>: a batch of prompts of different lengths gives each prompt's
/// own result, unlike transformers' layout.</summary>
[NonParallelizable]
public class PromptPaddingTests
{
    [TestCase(1)]
    [TestCase(3)]
    public void Per_sequence_batch_equals_each_prompt_alone(int beams)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var pixels = fixtures.Get("pixel_values");
        var ids = fixtures.Get("captioning.input_ids");
        var mask = fixtures.Get("captioning.attention_mask");
        var options = new GenerationOptions { MaxNewTokens = 8, NumBeams = beams, NoRepeatNgramSize = 2 };
        using var batched = model.Generate(pixels, ids, mask, options with { PromptPadding = PromptPadding.PerSequence });
        for (int i = 0; i < 2; i++)
        {
            int length = (int)mask[i].sum().item<long>();
            using var alone = model.Generate(pixels[i..(i + 1)], ids[i..(i + 1), ..length], mask[i..(i + 1), ..length], options);
            Assert.That(batched.Tokens[i], Is.EqualTo(alone.Tokens[0]), $"prompt {i}");
        }
    }

    [Test]
    public void Transformers_layout_lets_the_padding_into_the_shorter_prompt()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var ids = fixtures.Get("captioning.input_ids");
        var mask = fixtures.Get("captioning.attention_mask");
        using var result = model.Generate(fixtures.Get("pixel_values"), ids, mask, new GenerationOptions { MaxNewTokens = 4 });
        long[] shortRow = result.Tokens[0];
        Assert.That(shortRow[..11], Is.EqualTo(new long[] { 1038, 1000, 1001, 1002, 102, 0, 0, 0, 0, 0, 0 }),
            "bos, the prompt, its own [SEP] and the pads stay in the decoder input");
    }
}
