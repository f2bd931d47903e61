// Caption metrics: exact match, corpus BLEU-4 (Papineni et al.) and CIDEr-D (Vedantam et al., as pycocoevalcap).
namespace Blip.Engine.Training;

/// <summary>Scores generated captions against reference captions (one or more per image), as pycocoevalcap's
/// <c>Bleu(4)</c> and <c>Cider</c> (which is CIDEr-D) score PTB-tokenized captions.</summary>
/// <remarks>
/// pycocoevalcap runs Stanford CoreNLP 3.4.1's Java <c>PTBTokenizer -preserveLines -lowerCase</c> and then drops the
/// tokens <c>'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;</c>. <see cref="Words"/> reproduces that without
/// Java: lower-case; a word is a run of letters/digits that may hold a hyphen, apostrophe, slash or period between
/// two letters/digits (<c>t-shirt</c>, <c>o'clock</c>, <c>and/or</c>, <c>3.5</c>) or a comma or colon between two
/// digits (<c>1,000</c>, <c>10:30</c>); the clitics <c>n't 's 'm 'd 're 've 'll</c> become words of their own
/// (<c>don't</c> → <c>do n't</c>) and <c>cannot gonna gotta wanna gimme lemme</c> are split in two, as PTB does;
/// <c>. ? ! , : ; - ' " `</c>, curly quotes, en/em dashes and <c>…</c> are dropped; brackets are kept, as
/// <c>-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-</c> (PTB escaping writes <c>-LRB-</c> and <c>-lowerCase</c> lower-cases each
/// token after that, as CoreNLP's <c>PTBTokenizer.tokReader</c> does, so the filter's upper-case names never
/// match); every other symbol (<c>$ % &amp; # @ / *</c> …) is a word of one character.
/// Known simplifications, none of which changes the words of ordinary captions: Stanford keeps the period of
/// abbreviations (<c>mr.</c>, <c>u.s.</c>; here <c>mr</c>, <c>u.s</c>: one word either way), escapes <c>/</c> and
/// <c>*</c>, and has rules (URLs, e-mail addresses, emoticons, <c>&amp;</c> inside words, SGML entities, <c>?!</c>
/// runs) that are not reproduced. Only the word boundaries and which tokens are dropped matter to the scores: a
/// consistent renaming of words changes nothing.
/// </remarks>
public static class CaptionMetrics
{
    // pycocoevalcap's BLEU adds these to every count so that no order ever divides by or takes the log of zero.
    private const double Tiny = 1e-15, Small = 1e-9;
    private const double Sigma = 6.0;

    /// <summary>The lower-cased words of <paramref name="text"/> that pycocoevalcap scores (see the remarks on
    /// <see cref="CaptionMetrics"/>).</summary>
    public static string[] Words(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return PtbWords.Of(text);
    }

    /// <summary>Fraction of candidates whose words equal those of one of their references.</summary>
    public static double ExactMatch(IReadOnlyList<string> candidates, IReadOnlyList<IReadOnlyList<string>> references)
    {
        Check(candidates, references);
        int hits = candidates.Where((c, i) => references[i].Any(r => Words(r).SequenceEqual(Words(c)))).Count();
        return (double)hits / candidates.Count;
    }

    /// <summary>Corpus BLEU-4 as pycocoevalcap's <c>Bleu(4)</c> (its fourth value): the geometric mean of the corpus
    /// clipped 1..4-gram precisions times the brevity penalty, with the "closest" reference length of each candidate
    /// (ties to the shorter), no smoothing.</summary>
    /// <remarks>As pycocoevalcap, every precision is (matches + 1e-15) / (candidate n-grams + 1e-9) and the length
    /// ratio (candidate words + 1e-15) / (reference words + 1e-9): a corpus without any 4-gram match scores a small
    /// positive number ((1e-15 / its 4-grams)^(1/4) times the rest: ~1e-4 for ten 4-grams), not 0. nltk's <c>corpus_bleu</c> agrees (to ~1e-9 relative) when every
    /// order has a match and every candidate has at least 4 words; otherwise it differs (it counts at least one
    /// n-gram per candidate and returns ~0 for an order without matches).</remarks>
    public static double Bleu4(IReadOnlyList<string> candidates, IReadOnlyList<IReadOnlyList<string>> references)
    {
        Check(candidates, references);
        var matched = new double[4];
        var total = new double[4];
        double candLength = 0, refLength = 0;
        for (int i = 0; i < candidates.Count; i++)
        {
            var cand = Words(candidates[i]);
            var refs = references[i].Select(Words).ToList();
            candLength += cand.Length;
            refLength += refs.Select(r => r.Length).OrderBy(l => Math.Abs(l - cand.Length)).ThenBy(l => l).First();
            for (int n = 1; n <= 4; n++)
            {
                var counts = NGrams(cand, n);
                var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var r in refs)
                    foreach (var (g, c) in NGrams(r, n)) maxRef[g] = Math.Max(maxRef.GetValueOrDefault(g), c);
                matched[n - 1] += counts.Sum(kv => Math.Min(kv.Value, maxRef.GetValueOrDefault(kv.Key)));
                total[n - 1] += Math.Max(0, cand.Length - n + 1);
            }
        }
        double product = 1;
        for (int n = 0; n < 4; n++) product *= (matched[n] + Tiny) / (total[n] + Small);
        double ratio = (candLength + Tiny) / (refLength + Small);
        return Math.Pow(product, 1.0 / 4) * (ratio < 1 ? Math.Exp(1 - 1 / ratio) : 1);
    }

    /// <summary>CIDEr-D as pycocoevalcap's <c>Cider</c>: the mean of <see cref="CiderDPerImage"/>.</summary>
    public static double CiderD(IReadOnlyList<string> candidates, IReadOnlyList<IReadOnlyList<string>> references) =>
        CiderDPerImage(candidates, references).Average();

    /// <summary>CIDEr-D of each image, as the per-image scores pycocoevalcap's <c>Cider</c> returns: ×10 the mean over
    /// n = 1..4 of the mean over the image's references of the clipped TF-IDF cosine between candidate and reference
    /// n-gram vectors, times the length penalty exp(-δ²/(2·6²)).</summary>
    /// <remarks>As pycocoevalcap: document frequencies count the images whose references hold an n-gram (candidates
    /// never count); the IDF is log(images) - log(max(1, df)), so one image alone scores 0 and an n-gram in every
    /// image's references weighs 0; the clipped dot product is Σ min(c, r)·r; a zero vector gives cosine 0. δ is
    /// the difference of the word counts; pycocoevalcap takes that of the bigram counts, which is the same whenever
    /// both captions have a word, and when either is empty the cosine is 0 anyway.</remarks>
    public static double[] CiderDPerImage(IReadOnlyList<string> candidates, IReadOnlyList<IReadOnlyList<string>> references)
    {
        Check(candidates, references);
        var refGrams = references.Select(rs => rs.Select(r => Words(r)).ToList()).ToList();
        var df = new Dictionary<string, int>[4];
        for (int n = 1; n <= 4; n++)
        {
            df[n - 1] = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var refs in refGrams)
                foreach (var g in refs.SelectMany(r => NGrams(r, n).Keys).Distinct()) df[n - 1][g] = df[n - 1].GetValueOrDefault(g) + 1;
        }
        double logDocs = Math.Log(candidates.Count);
        var scores = new double[candidates.Count];
        for (int i = 0; i < candidates.Count; i++)
        {
            var cand = Words(candidates[i]);
            double perImage = 0;
            for (int n = 1; n <= 4; n++)
            {
                var c = TfIdf(NGrams(cand, n), df[n - 1], logDocs);
                foreach (var r in refGrams[i])
                {
                    var v = TfIdf(NGrams(r, n), df[n - 1], logDocs);
                    perImage += Similarity(c, v) * Math.Exp(-Math.Pow(cand.Length - r.Length, 2) / (2 * Sigma * Sigma)) / 4;
                }
            }
            scores[i] = perImage / refGrams[i].Count * 10;
        }
        return scores;
    }

    private static Dictionary<string, double> TfIdf(Dictionary<string, int> counts, Dictionary<string, int> df, double logDocs) =>
        counts.ToDictionary(kv => kv.Key, kv => kv.Value * (logDocs - Math.Log(Math.Max(1.0, df.GetValueOrDefault(kv.Key)))));

    private static double Similarity(Dictionary<string, double> cand, Dictionary<string, double> reference)
    {
        double dot = cand.Sum(kv => Math.Min(kv.Value, reference.GetValueOrDefault(kv.Key)) * reference.GetValueOrDefault(kv.Key));
        double norms = Math.Sqrt(cand.Values.Sum(v => v * v)) * Math.Sqrt(reference.Values.Sum(v => v * v));
        return norms == 0 ? 0 : dot / norms;
    }

    private static Dictionary<string, int> NGrams(string[] words, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= words.Length; i++)
        {
            string g = string.Join(' ', words, i, n);
            counts[g] = counts.GetValueOrDefault(g) + 1;
        }
        return counts;
    }

    private static void Check(IReadOnlyList<string> candidates, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(references);
        if (candidates.Count != references.Count || candidates.Count == 0)
            throw new ArgumentException($"need one reference list per candidate and at least one: {candidates.Count} candidates, {references.Count} reference lists", nameof(references));
        if (references.Any(r => r.Count == 0)) throw new ArgumentException("an image has no reference caption", nameof(references));
    }
}
