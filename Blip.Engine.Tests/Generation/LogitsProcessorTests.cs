using Blip.Engine.Generation;

namespace Blip.Engine.Tests.Generation;

/// <summary>Each processor on small hand-made scores, and the order transformers applies them in.</summary>
public class LogitsProcessorTests
{
    private static readonly float NegInf = float.NegativeInfinity;

    [Test]
    public void Order_is_repetition_ngram_min_length_then_temperature_top_k_top_p()
    {
        var options = new GenerationOptions { RepetitionPenalty = 1.2, NoRepeatNgramSize = 2, MinLength = 3, DoSample = true, Temperature = 0.5, TopP = 0.9 };
        var types = LogitsProcessorList.Create(options, new StopTokens(102, 0), promptLength: 1).Processors.Select(p => p.GetType());
        Assert.That(types, Is.EqualTo(new[] { typeof(RepetitionPenaltyProcessor), typeof(NoRepeatNGramProcessor), typeof(MinLengthProcessor),
            typeof(TemperatureWarper), typeof(TopKWarper), typeof(TopPWarper) }));
        var greedy = LogitsProcessorList.Create(options with { DoSample = false }, new StopTokens(102, 0), promptLength: 1).Processors;
        Assert.That(greedy, Has.Count.EqualTo(3), "warpers only when sampling");
    }

    [Test]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores_of_seen_ids()
    {
        using var scope = NewDisposeScope();
        var scores = tensor(new[] { 2f, -2f, 1f, 4f }).view(1, 4);
        var result = new RepetitionPenaltyProcessor(2.0).Process(tensor(new long[] { 0, 1, 1 }).view(1, 3), scores);
        Assert.That(result.data<float>().ToArray(), Is.EqualTo(new[] { 1f, -4f, 1f, 4f }));
    }

    [Test]
    public void No_repeat_ngram_bans_the_token_that_would_repeat_a_bigram()
    {
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 1, 2, 3, 1 }).view(1, 5);          // "1 2" seen; last token is 1
        var result = new NoRepeatNGramProcessor(2).Process(ids, zeros(1, 6));
        Assert.That(result.data<float>().ToArray(), Is.EqualTo(new[] { 0f, 0f, NegInf, 0f, 0f, 0f }));
    }

    [Test]
    public void Min_length_forbids_the_end_id_until_the_length_is_reached()
    {
        using var scope = NewDisposeScope();
        var p = new MinLengthProcessor(3, eos: 2);
        Assert.That(p.Process(zeros(1, 2, dtype: ScalarType.Int64), zeros(1, 4)).data<float>().ToArray(), Is.EqualTo(new[] { 0f, 0f, NegInf, 0f }));
        Assert.That(p.Process(zeros(1, 3, dtype: ScalarType.Int64), zeros(1, 4)).data<float>().ToArray(), Is.EqualTo(new[] { 0f, 0f, 0f, 0f }));
    }

    [Test]
    public void Top_k_keeps_the_k_best_and_top_p_the_smallest_nucleus()
    {
        using var scope = NewDisposeScope();
        var ids = zeros(1, 1, dtype: ScalarType.Int64);
        var scores = tensor(new[] { 1f, 3f, 2f, 0f }).view(1, 4);
        Assert.That(new TopKWarper(2, 1).Process(ids, scores).data<float>().ToArray(), Is.EqualTo(new[] { NegInf, 3f, 2f, NegInf }));
        var probs = log(tensor(new[] { 0.1f, 0.5f, 0.3f, 0.1f })).view(1, 4);   // 0.5 + 0.3 reaches 0.75
        var nucleus = new TopPWarper(0.75, 1).Process(ids, probs).data<float>().ToArray();
        Assert.That(nucleus.Select(float.IsNegativeInfinity), Is.EqualTo(new[] { true, false, false, true }));
    }
}
