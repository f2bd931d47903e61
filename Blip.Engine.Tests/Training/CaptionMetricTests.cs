// Caption metrics against nltk's own outputs (Fixtures/training/metrics.json, tools/reference/make_metric_fixtures.py)
// and against properties of pycocoevalcap's CIDEr-D definition (no CIDEr implementation is packaged to run here).
using System.Text.Json;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Training;

public sealed class CaptionMetricTests
{
    private sealed record Corpus(string[] Candidates, string[][] References, double Bleu4, long[] Matches, long[] Guesses,
        long HypLen, long RefLen, bool Comparable)
    {
        public IReadOnlyList<IReadOnlyList<string>> Refs => References;
    }

    private static readonly Lazy<JsonDocument> Fixture = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Fixtures, "training", "metrics.json"))));

    private static List<Corpus> Corpora() => [.. Fixture.Value.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Corpus(
        [.. c.GetProperty("candidates").EnumerateArray().Select(x => x.GetString()!)],
        [.. c.GetProperty("references").EnumerateArray().Select(rs => rs.EnumerateArray().Select(x => x.GetString()!).ToArray())],
        c.GetProperty("bleu4").GetDouble(),
        [.. c.GetProperty("matches").EnumerateArray().Select(x => x.GetInt64())],
        [.. c.GetProperty("guesses").EnumerateArray().Select(x => x.GetInt64())],
        c.GetProperty("hyp_len").GetInt64(), c.GetProperty("ref_len").GetInt64(), c.GetProperty("comparable").GetBoolean()))];

    [Test]
    public void Words_are_nltk_treebank_tokens_without_pycocoevalcap_punctuation()
    {
        var cases = Fixture.Value.RootElement.GetProperty("tokenize").EnumerateArray().ToList();
        var wrong = cases.Select(c => (Text: c.GetProperty("text").GetString()!,
                Expected: string.Join(" | ", c.GetProperty("words").EnumerateArray().Select(w => w.GetString()))))
            .Select(c => (c.Text, c.Expected, Actual: string.Join(" | ", CaptionMetrics.Words(c.Text))))
            .Where(c => c.Expected != c.Actual).ToList();
        Assert.That(wrong, Is.Empty, $"{wrong.Count} of {cases.Count} differ, e.g. " +
            string.Join("; ", wrong.Take(5).Select(w => $"'{w.Text}': nltk [{w.Expected}], ours [{w.Actual}]")));
    }

    [Test]
    public void Bleu4_equals_nltk_corpus_bleu_where_nltk_and_pycocoevalcap_define_it_alike()
    {
        var comparable = Corpora().Where(c => c.Comparable).ToList();
        Assert.That(comparable, Has.Count.GreaterThan(100));
        var expected = comparable.Select(c => c.Bleu4).ToArray();
        var actual = comparable.Select(c => CaptionMetrics.Bleu4(c.Candidates, c.Refs)).ToArray();
        // pycocoevalcap's 1e-15 / 1e-9 epsilons move a precision by < 1e-9 relative
        TensorAssert.AllClose(tensor(expected), tensor(actual), atol: 0, rtol: 1e-8, what: "BLEU-4 vs nltk corpus_bleu");
    }

    [Test]
    public void Bleu4_is_pycocoevalcaps_formula_on_nltks_clipped_counts_also_without_4_gram_matches()
    {
        var corpora = Corpora();
        Assert.That(corpora.Count(c => c.Matches[3] == 0), Is.GreaterThan(20), "corpora without a 4-gram match");
        Assert.That(corpora.Count(c => !c.Comparable && c.Matches.All(m => m > 0)), Is.GreaterThan(10), "corpora with a candidate under 4 words");
        var expected = corpora.Select(PycocoevalcapBleu4).ToArray();
        var actual = corpora.Select(c => CaptionMetrics.Bleu4(c.Candidates, c.Refs)).ToArray();
        TensorAssert.AllClose(tensor(expected), tensor(actual), atol: 0, rtol: 1e-12, what: "BLEU-4 vs pycocoevalcap formula on nltk counts");
        Assert.That(actual.Where((_, i) => corpora[i].Matches[0] > 0), Has.All.GreaterThan(0), "pycocoevalcap is never exactly 0 with a unigram match");
    }

    // bleu_scorer.compute_score: prod_k (correct_k + tiny) / (guess_k + small), ^(1/4), times exp(1 - 1/ratio) if ratio < 1
    private static double PycocoevalcapBleu4(Corpus c)
    {
        double product = 1;
        for (int k = 0; k < 4; k++) product *= (c.Matches[k] + 1e-15) / (c.Guesses[k] + 1e-9);
        double ratio = (c.HypLen + 1e-15) / (c.RefLen + 1e-9);
        return Math.Pow(product, 0.25) * (ratio < 1 ? Math.Exp(1 - 1 / ratio) : 1);
    }

    [Test]
    public void CiderD_of_a_single_image_is_zero_as_its_idf_is_log_1()
    {
        var single = Corpora().Where(c => c.Candidates.Length == 1).ToList();
        Assert.That(single, Has.Count.GreaterThan(20));
        Assert.That(single.Select(c => CaptionMetrics.CiderD(c.Candidates, c.Refs)), Has.All.EqualTo(0.0));
    }

    [Test]
    public void CiderD_does_not_depend_on_the_order_of_images_or_references()
    {
        var rng = new Random(7);
        var corpora = Corpora().Where(c => c.Candidates.Length > 1).ToList();
        var expected = new List<double>();
        var actual = new List<double>();
        foreach (var c in corpora)
        {
            int[] order = [.. Enumerable.Range(0, c.Candidates.Length).OrderBy(_ => rng.Next())];
            var refs = order.Select(i => (IReadOnlyList<string>)c.References[i].OrderBy(_ => rng.Next()).ToList()).ToList();
            var shuffled = CaptionMetrics.CiderDPerImage([.. order.Select(i => c.Candidates[i])], refs);
            var plain = CaptionMetrics.CiderDPerImage(c.Candidates, c.Refs);
            expected.AddRange(order.Select(i => plain[i]));
            actual.AddRange(shuffled);
        }
        TensorAssert.AllClose(tensor(expected.ToArray()), tensor(actual.ToArray()), atol: 1e-12, what: "CIDEr-D per image, shuffled");
    }

    [Test]
    public void CiderD_document_frequencies_come_from_references_only()
    {
        var expected = new List<double>();
        var actual = new List<double>();
        foreach (var c in Corpora().Where(c => c.Candidates.Length > 1))
        {
            var plain = CaptionMetrics.CiderDPerImage(c.Candidates, c.Refs);
            string[] changed = [c.References[1][0] + " zebra zebra", .. c.Candidates[1..]];
            var other = CaptionMetrics.CiderDPerImage(changed, c.Refs);
            expected.AddRange(plain[1..]);
            actual.AddRange(other[1..]);
        }
        TensorAssert.AllClose(tensor(expected.ToArray()), tensor(actual.ToArray()), atol: 0, what: "other images' CIDEr-D after changing candidate 0");
    }

    [Test]
    public void CiderD_of_a_caption_equal_to_its_only_reference_is_10_times_the_share_of_orders_it_has()
    {
        // disjoint words: every n-gram weighs log 6; cosine 1 for each order the caption has, 0 for longer orders
        string[] captions = [.. Enumerable.Range(1, 6).Select(len => string.Join(' ', Enumerable.Range(0, len).Select(j => $"w{len}x{j}")))];
        var scores = CaptionMetrics.CiderDPerImage(captions, [.. captions.Select(c => (IReadOnlyList<string>)[c])]);
        double[] expected = [.. Enumerable.Range(1, 6).Select(len => 10.0 * Math.Min(len, 4) / 4)];
        TensorAssert.AllClose(tensor(expected), tensor(scores), atol: 1e-12, what: "CIDEr-D of exact copies");
        Assert.That(CaptionMetrics.CiderD(captions, [.. captions.Select(c => (IReadOnlyList<string>)[c])]), Is.EqualTo(expected.Average()).Within(1e-12));
    }

    [Test]
    public void CiderD_length_penalty_is_gaussian_in_the_word_difference_with_sigma_6()
    {
        // image 0: candidate "a b", reference "a b" + k × "x"; image 1's reference "b" + k × "x" holds every n-gram
        // without "a", so those weigh log 2 - log 2 = 0: unigram and bigram cosines stay 1, no trigrams or 4-grams in
        // the candidate, so the score is 10 · 2/4 · exp(-k² / (2 · 6²))
        var expected = new double[9];
        var actual = new double[9];
        for (int k = 0; k <= 8; k++)
        {
            string pad = string.Concat(Enumerable.Repeat(" x", k));
            actual[k] = CaptionMetrics.CiderDPerImage(["a b", "q"], [["a b" + pad], ["b" + pad]])[0];
            expected[k] = 5 * Math.Exp(-k * k / 72.0);
        }
        TensorAssert.AllClose(tensor(expected), tensor(actual), atol: 1e-12, what: "CIDEr-D against padded references");
    }

    [Test]
    public void CiderD_clips_candidate_weights_at_the_reference_weights()
    {
        // "p p" against "p q": clipped dot min(2L, L)·L over norms 2L·√2L gives cosine 1/(2√2) (1/√2 unclipped);
        // the bigram "p p" is in no reference; no trigrams: 10 · (1/(2√2)) / 4
        var scores = CaptionMetrics.CiderDPerImage(["p p", "r s"], [["p q"], ["r s"]]);
        TensorAssert.AllClose(tensor(new[] { 10 / (8 * Math.Sqrt(2)), 5.0 }), tensor(scores), atol: 1e-12, what: "clipped CIDEr-D");
    }
}
