using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>generate() returns exactly transformers' ids on the tiny models.</summary>
[TestFixture("Auto")]
[TestFixture("Always")]
[TestFixture("Packed")]
[NonParallelizable]
public class TransformersParityTests(string policy) : KernelPolicyFixture(policy)
{
    private static readonly GenerationOptions Greedy20 = new() { MaxLength = 20 };

    [Test]
    public void Greedy_unconditional_equals_transformers() => Caption("captioning.generate.greedy", Greedy20, prompt: false);

    [Test]
    public void Greedy_ignores_sampling_settings_as_transformers_does() =>
        // transformers' greedy search never builds the warpers, so these change nothing there (checked in the chroot).
        Caption("captioning.generate.greedy", Greedy20 with { Temperature = 0, TopK = -1, TopP = 1.5 }, prompt: false);

    [Test]
    public void Greedy_with_prompts_of_different_lengths_equals_transformers() =>
        Caption("captioning.generate.greedy_prompt", Greedy20, prompt: true);

    [Test]
    public void Beam3_with_min_length_equals_transformers() =>
        Caption("captioning.generate.beam3", new() { MaxLength = 20, MinLength = 5, NumBeams = 3 }, prompt: false);

    [Test]
    public void Beam3_with_repetition_penalty_equals_transformers() =>
        Caption("captioning.generate.beam3_rep", new() { MaxLength = 20, NumBeams = 3, RepetitionPenalty = 1.5 }, prompt: false);

    [Test]
    public void Vqa_greedy_answers_equal_transformers()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"), memoryMap: MemoryMap);
        long before = SkinnyLinear.PackedSteps;
        using var result = model.Generate(fixtures.Get("pixel_values"), fixtures.Get("vqa.input_ids"), fixtures.Get("vqa.attention_mask"), Greedy20);
        TensorAssert.Equal(fixtures.Get("vqa.generate"), result.Sequences, "vqa.generate");
        AssertPackedSteps(before, ScalarType.Float32, "vqa.generate");
    }

    [TestCaseSource(typeof(GenerationCase), nameof(GenerationCase.All))]
    public void Extra_case_equals_transformers(GenerationCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        using var tiny = new TinyFixtures();
        using var fixtures = new GenerationFixtures();
        long before = SkinnyLinear.PackedSteps;
        using var result = Run(c, tiny, memoryMap: MemoryMap);
        TensorAssert.Equal(fixtures.Get(c.Name), result.Sequences, c.Name);
        AssertPackedSteps(before, ScalarType.Float32, c.Name);
        if (fixtures.Has(c.Name + ".scores"))
        {
            Assert.That(result.SequenceScores, Is.Not.Null);
            TensorAssert.AllClose(fixtures.Get(c.Name + ".scores"), tensor(result.SequenceScores!.ToArray()), 1e-5, 1e-5, c.Name + " scores");
        }
    }

    /// <summary>Runs case <paramref name="c"/> on the tiny models, loaded in <paramref name="dtype"/> (float32 when null),
    /// their weights aliasing the checkpoint's memory map where <paramref name="memoryMap"/> (as the pipelines load).</summary>
    internal static GenerationResult Run(GenerationCase c, TinyFixtures tiny, ScalarType? dtype = null, bool memoryMap = false)
    {
        var pixels = tiny.Get("pixel_values");
        if (c.Model == "vqa")
        {
            using var vqa = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"), dtype: dtype, memoryMap: memoryMap);
            return vqa.Generate(pixels, tiny.Get("vqa.input_ids"), tiny.Get("vqa.attention_mask"), c.Options);
        }
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), dtype: dtype, memoryMap: memoryMap);
        return c.Inputs switch
        {
            "prompt" => model.Generate(pixels, tiny.Get("captioning.input_ids"), tiny.Get("captioning.attention_mask"), c.Options),
            "images4" => model.Generate(GenerationFixtures.FourImages(pixels), options: c.Options),
            _ => model.Generate(pixels, options: c.Options),
        };
    }

    private void Caption(string name, GenerationOptions options, bool prompt)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: MemoryMap);
        var pixels = fixtures.Get("pixel_values");
        long before = SkinnyLinear.PackedSteps;
        using var result = prompt
            ? model.Generate(pixels, fixtures.Get("captioning.input_ids"), fixtures.Get("captioning.attention_mask"), options)
            : model.Generate(pixels, options: options);
        TestContext.Out.WriteLine(string.Join("\n", result.Tokens.Select(r => string.Join(",", r))));
        TensorAssert.Equal(fixtures.Get(name), result.Sequences, name);
        AssertPackedSteps(before, ScalarType.Float32, name);
    }
}
