using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Pipelines;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Generation;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Pipelines;

/// <summary>Batches whose texts differ a lot in length (one word against 41 tokens, an empty text, special tokens
/// written in the text) against transformers' outputs for the same batch and for each text alone
/// (<c>Fixtures/batch</c>, tools/reference/make_batch_fixtures.py). Where transformers is batch-invariant (ITM, ITC,
/// teacher-forced logits) the batch must equal each text alone too; where it is not (generate() with padded prompts
/// or questions) Blip.Engine equals transformers' batch, and its opt-in layouts equal each text alone.</summary>
[TestFixture("Auto")]
[TestFixture("Always")]
[TestFixture("Packed")]
[NonParallelizable]  // sets the process-wide kernel policies
public class MixedLengthBatchTests(string policy) : KernelPolicyFixture(policy)
{
    private const double Atol = 1e-4;

    private static readonly Lazy<JsonElement> Meta = new(() =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("batch", "expected.json"))).RootElement);

    internal static string[] Strings(string section, string name) =>
        Meta.Value.GetProperty(section).GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToArray();

    private static string Image(string name) => TestPaths.Fixture("tiny", "images", name);

    internal static Tensor Pixels(string section) =>
        new BlipImageProcessor(ImageProcessorConfig.Load(TinyFixtures.ModelFolder("retrieval"))).Preprocess(Strings(section, "images").Select(Image));

    internal static GenerationOptions Options(string section, string key) =>
        GenerationCase.FromKwargs(Meta.Value.GetProperty(section).GetProperty("generate").GetProperty(key).GetProperty("kwargs"), null);

    /// <summary>Row <paramref name="row"/> of a fixture's "alone" ids, without the -1 the script padded with.</summary>
    private static long[] Alone(Tensor alone, int row) => alone[row].data<long>().ToArray().Where(id => id != -1).ToArray();

    [Test]
    public void The_tokenizer_pads_each_batch_as_blip_processor()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("retrieval"));
        foreach (var (key, texts) in new[] { ("itm", Strings("itm", "texts")), ("prompt", Strings("prompt", "prompts")),
                     ("vqa", Strings("vqa", "questions")), ("vqa.labels", Strings("vqa", "answers")) })
        {
            var (ids, mask) = tokenizer.EncodeBatch(texts).ToTensors();
            TensorAssert.Equal(fixtures.Get(key == "vqa.labels" ? key : key + ".input_ids"), ids, key + " ids");
            TensorAssert.Equal(fixtures.Get(key == "vqa.labels" ? key + "_attention_mask" : key + ".attention_mask"), mask, key + " mask");
        }
    }

    [Test]
    public void Match_of_mixed_length_texts_equals_transformers_batch_and_each_text_alone()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        var texts = Strings("itm", "texts");
        var images = Meta.Value.GetProperty("images").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.That(Meta.Value.GetProperty("itm").GetProperty("batch_invariant").GetBoolean(), "transformers' ITM/ITC are batch-invariant");
        for (int m = 0; m < images.Length; m++)
        {
            var batch = matcher.Match(Image(images[m]), texts);
            var alone = texts.Select(t => matcher.Match(Image(images[m]), [t])[0]).ToList();
            foreach (var (results, suffix) in new[] { (batch, ""), (alone, "_alone") })
            {
                var itm = fixtures.Get("itm.itm_logits" + suffix)[m];                                         // [N,2]
                var what = $"image {images[m]}, texts {(suffix.Length == 0 ? "in one batch" : "alone")}";
                TensorAssert.AllClose(itm, tensor(results.SelectMany(r => r.ItmLogits).ToArray(), [texts.Length, 2]), Atol, what: "ITM logits, " + what);
                TensorAssert.AllClose(itm.softmax(-1)[.., 1], tensor(results.Select(r => r.ItmProbability).ToArray()), Atol, what: "ITM probability, " + what);
                TensorAssert.AllClose(fixtures.Get("itm.itc" + suffix)[m], tensor(results.Select(r => r.Cosine).ToArray()), Atol, what: "ITC cosine, " + what);
            }
        }
    }

    [Test]
    public void Rank_and_rank_images_score_mixed_length_texts_as_transformers()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        var texts = Strings("itm", "texts");
        var itc = fixtures.Get("itm.itc");                                 // [M,N]
        var probability = fixtures.Get("itm.itm_logits").softmax(-1);      // [M,N,2]
        using var embedded = matcher.EmbedTexts(texts);
        TensorAssert.AllClose(fixtures.Get("itm.text_feat"), embedded.Features, Atol, what: "EmbedTexts features");
        var images = Meta.Value.GetProperty("images").EnumerateArray().Select(e => matcher.EmbedImage(Image(e.GetString()!))).ToList();
        try
        {
            for (int m = 0; m < images.Count; m++)
            {
                var ranked = matcher.Rank(images[m], embedded, topK: 3);
                Assert.That(ranked.Count(r => r.ItmProbability is not null), Is.EqualTo(3));
                foreach (var r in ranked)
                {
                    Assert.That(r.Cosine, Is.EqualTo(itc[m, r.Index].item<float>()).Within(Atol), $"Rank: image {m}, text {r.Index} cosine");
                    if (r.ItmProbability is { } p)
                        Assert.That(p, Is.EqualTo(probability[m, r.Index, 1].item<float>()).Within(Atol), $"Rank: image {m}, text {r.Index} ITM");
                }
            }
            for (int n = 0; n < texts.Length; n++)
            {
                foreach (var r in matcher.RankImages(images, texts[n], topK: 1))
                {
                    Assert.That(r.Cosine, Is.EqualTo(itc[r.Index, n].item<float>()).Within(Atol), $"RankImages: text {n}, image {r.Index} cosine");
                    if (r.ItmProbability is { } p)
                        Assert.That(p, Is.EqualTo(probability[r.Index, n, 1].item<float>()).Within(Atol), $"RankImages: text {n}, image {r.Index} ITM");
                }
            }
        }
        finally
        {
            images.ForEach(i => i.Dispose());
        }
    }

    /// <summary>The caller's list changed after EmbedTexts (reused, reversed, grown) must not change what Rank scores: the
    /// embeddings keep the texts they encoded. Before, Rank read the live list, so each feature was labelled with
    /// another text and the top k were re-scored with ITM on the wrong texts.</summary>
    [Test]
    public void Rank_scores_the_texts_that_were_embedded_even_if_the_callers_list_changed()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        var texts = Strings("itm", "texts");
        var list = texts.ToList();
        using var embedded = matcher.EmbedTexts(list);
        list.Reverse();
        list.Add("a later text");
        using var image = matcher.EmbedImage(Image(Meta.Value.GetProperty("itm").GetProperty("images")[0].GetString()!));
        var ranked = matcher.Rank(image, embedded, topK: 3);
        Assert.That(embedded.Texts, Is.EqualTo(texts));
        Assert.That(ranked.Select(r => r.Index).Order(), Is.EqualTo(Enumerable.Range(0, texts.Length)));
        var probability = fixtures.Get("itm.itm_logits")[0].softmax(-1);   // [N,2]
        foreach (var r in ranked)
        {
            Assert.That(r.Text, Is.EqualTo(texts[r.Index]), $"text {r.Index}");
            Assert.That(r.Cosine, Is.EqualTo(fixtures.Get("itm.itc")[0, r.Index].item<float>()).Within(Atol), $"text {r.Index} cosine");
            if (r.ItmProbability is { } p)
                Assert.That(p, Is.EqualTo(probability[r.Index, 1].item<float>()).Within(Atol), $"text {r.Index} ITM");
        }
    }

    /// <summary>More texts than one text-encoder call takes (64): sorted by length, cut per call and put back in order.
    /// Each text's expected feature is transformers' for it (batch-invariant, as the fixture records).</summary>
    [Test]
    public void Many_mixed_length_texts_over_several_encoder_calls_keep_their_order_and_features()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        var texts = Strings("itm", "texts");
        var many = Enumerable.Range(0, 150).Select(i => texts[(i * 7) % texts.Length]).ToList();
        var rows = tensor(Enumerable.Range(0, 150).Select(i => (long)((i * 7) % texts.Length)).ToArray());
        using var embedded = matcher.EmbedTexts(many);
        TensorAssert.AllClose(fixtures.Get("itm.text_feat").index_select(0, rows), embedded.Features, Atol, what: "150 texts' features");
        var matched = matcher.Match(Image("rgb.png"), many);
        var itm = fixtures.Get("itm.itm_logits")[0].index_select(0, rows);                                  // [150,2]
        TensorAssert.AllClose(itm, tensor(matched.SelectMany(r => r.ItmLogits).ToArray(), [many.Count, 2]), Atol, what: "150 texts' ITM logits");
        TensorAssert.AllClose(fixtures.Get("itm.itc")[0].index_select(0, rows), tensor(matched.Select(r => r.Cosine).ToArray()), Atol, what: "150 texts' ITC");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(4)]
    public void Text_features_in_sorted_cut_batches_equal_transformers(int batchSize)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures("batch");
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"), memoryMap: MemoryMap);
        var ids = fixtures.Get("itm.input_ids");
        var mask = fixtures.Get("itm.attention_mask");
        TensorAssert.AllClose(fixtures.Get("itm.text_feat"), model.TextFeatures(ids, mask, batchSize), Atol, what: $"text_feat, batches of {batchSize}");
        using var vision = model.VisionModel.forward(Pixels("itm"));
        TensorAssert.AllClose(fixtures.Get("itm.itc"), model.ItcSimilarity(vision.LastHiddenState, ids, mask), Atol, what: "ITC matrix");
    }

    [Test]
    public void A_text_past_max_position_embeddings_is_refused_as_transformers_fails_on_it()
    {
        var tooLong = Meta.Value.GetProperty("itm").GetProperty("too_long");
        Assert.That(tooLong.GetProperty("transformers_raises").GetString(), Is.Not.Null, "transformers itself fails on it (no truncation)");
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        string[] texts = ["dog", tooLong.GetProperty("text").GetString()!];
        var itm = Assert.Catch<ArgumentException>(() => matcher.Match(Image("rgb.png"), texts));
        Assert.That(itm!.Message, Does.Contain("max_position_embeddings"));
        var itc = Assert.Catch<ArgumentException>(() => matcher.EmbedTexts(texts).Dispose());
        Assert.That(itc!.Message, Does.Contain("max_position_embeddings"));
    }

    [TestCase("hf")]
    [TestCase("masked")]
    [TestCase("blip")]
    public void Caption_loss_and_logits_of_a_padded_batch_equal_transformers_and_each_caption_alone(string recipe)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        var settings = recipe switch
        {
            "hf" => CaptionLossSettings.Transformers,
            "masked" => new CaptionLossSettings { MaskPadding = true },
            _ => CaptionLossSettings.OriginalBlip(Meta.Value.GetProperty("caption").GetProperty("blip_prompt").GetString()!),
        };
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("captioning"));
        using var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: MemoryMap);
        using var targets = CaptionTargets.Build(tokenizer, Strings("caption", "captions"), settings);
        string p = $"caption.{recipe}.";
        TensorAssert.Equal(fixtures.Get(p + "input_ids"), targets.InputIds, p + "input_ids");
        TensorAssert.Equal(fixtures.Get(p + "attention_mask"), targets.AttentionMask, p + "attention_mask");
        TensorAssert.Equal(fixtures.Get(p + "labels"), targets.Labels, p + "labels");
        var pixels = Pixels("caption");
        using var inference = inference_mode();
        TensorAssert.AllClose(fixtures.Get(p + "loss"), CaptionLoss.Compute(model, pixels, targets, settings).reshape(1), Atol, what: p + "loss");
        var logits = model.Forward(pixels, targets.InputIds, targets.AttentionMask);                       // [B,T,V]
        var head = logits[.., .., ..(int)fixtures.Get(p + "logits_head").shape[2]];
        TensorAssert.AllClose(fixtures.Get(p + "logsumexp"), logits.logsumexp(-1), Atol, what: p + "logsumexp");
        TensorAssert.AllClose(fixtures.Get(p + "logits_head"), head, Atol, what: p + "logits_head");
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var nll = nn.functional.cross_entropy(logits[.., ..^1, ..].reshape(-1, v), targets.Labels[.., 1..].reshape(-1),
            ignore_index: CaptionTargets.IgnoreIndex, reduction: nn.Reduction.None).view(b, t - 1);    // [B,T-1]
        TensorAssert.AllClose(fixtures.Get(p + "nll"), nll, Atol, what: p + "nll");

        // Batch == alone: the batch's real positions against each caption run alone by transformers.
        var real = targets.AttentionMask.flatten().nonzero().squeeze(1);                                 // [R]
        TensorAssert.AllClose(fixtures.Get(p + "logsumexp_alone"), logits.logsumexp(-1).flatten().index_select(0, real), Atol, what: p + "logsumexp vs alone");
        TensorAssert.AllClose(fixtures.Get(p + "logits_head_alone"), head.reshape(b * t, -1).index_select(0, real), Atol, what: p + "logits_head vs alone");
        var lengths = targets.AttentionMask.sum(1).data<long>().ToArray();
        var nllReal = cat(lengths.Select((n, i) => nll[i, ..(int)(n - 1)]).ToArray(), 0);
        TensorAssert.AllClose(fixtures.Get(p + "nll_alone"), nllReal, Atol, what: p + "nll vs alone");

        // Several captions scored against one image (the decoder's cross-attention shares the image's K/V).
        var captionImages = Strings("caption", "images");
        var sameImage = tensor(Enumerable.Range(0, captionImages.Length).Where(i => captionImages[i] == captionImages[0]).Select(i => (long)i).ToArray());
        Assert.That(sameImage.shape[0], Is.GreaterThan(1), "the fixture should give one image several captions");
        var shared = model.Forward(pixels[..1], targets.InputIds.index_select(0, sameImage), targets.AttentionMask.index_select(0, sameImage));
        TensorAssert.AllClose(fixtures.Get(p + "logsumexp").index_select(0, sameImage), shared.logsumexp(-1), Atol, what: p + "logsumexp, captions of one image");
    }

    /// <summary>A folder whose tokenizer pads and truncates on the left (named in tokenizer_config.json, or only in
    /// tokenizer.json's padding/truncation): transformers pads and cuts that way, so must the tokenizer.</summary>
    [TestCase("config")]
    [TestCase("json")]
    public void A_tokenizer_saved_to_pad_and_truncate_on_the_left_does_so_as_transformers(string how)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var tokenizer = BlipTokenizer.Load(TestPaths.Fixture("batch", "left_tokenizer", how));
        Assert.That((tokenizer.PaddingSide, tokenizer.TruncationSide), Is.EqualTo((TextSide.Left, TextSide.Left)));
        var texts = Strings("itm", "texts");
        var (ids, mask) = tokenizer.EncodeBatch(texts).ToTensors();
        TensorAssert.Equal(fixtures.Get($"left.{how}.input_ids"), ids, how + ": left-padded ids");
        TensorAssert.Equal(fixtures.Get($"left.{how}.attention_mask"), mask, how + ": left-padded mask");
        var truncated = fixtures.Get($"left.{how}.truncated");
        Assert.That(tokenizer.Encode(texts[1], maxLength: (int)truncated.shape[0]), Is.EqualTo(truncated.data<long>().ToArray()), how + ": truncated on the left");
    }

    [Test]
    public void Match_and_caption_loss_with_a_left_padding_tokenizer_equal_transformers()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        using var folder = TestPaths.NewTempDir();
        foreach (var model in new[] { "retrieval", "captioning" })
        {
            string target = Path.Combine(folder.Path, model);
            TestPaths.CopyFiles(TinyFixtures.ModelFolder(model), target);
            TestPaths.CopyFiles(TestPaths.Fixture("batch", "left_tokenizer", "config"), target, overwrite: true);
        }

        var texts = Strings("itm", "texts");
        var images = Meta.Value.GetProperty("images").EnumerateArray().Select(e => e.GetString()!).ToArray();
        using (var matcher = BlipMatcher.Open(Path.Combine(folder.Path, "retrieval")))
        {
            for (int m = 0; m < images.Length; m++)
            {
                var results = matcher.Match(Image(images[m]), texts);
                TensorAssert.AllClose(fixtures.Get("left.itm_logits")[m], tensor(results.SelectMany(r => r.ItmLogits).ToArray(), [texts.Length, 2]), Atol, what: $"left-padded ITM logits, image {m}");
                TensorAssert.AllClose(fixtures.Get("left.itc")[m], tensor(results.Select(r => r.Cosine).ToArray()), Atol, what: $"left-padded ITC, image {m}");
            }
        }

        string captioning = Path.Combine(folder.Path, "captioning");
        using var tokenizer = BlipTokenizer.Load(captioning);
        using var targets = CaptionTargets.Build(tokenizer, Strings("caption", "captions"), CaptionLossSettings.Transformers);
        TensorAssert.Equal(fixtures.Get("left.caption.input_ids"), targets.InputIds, "left-padded caption ids");
        TensorAssert.Equal(fixtures.Get("left.caption.attention_mask"), targets.AttentionMask, "left-padded caption mask");
        using var inference = inference_mode();
        using var captioner = BlipForConditionalGeneration.FromPretrained(captioning, memoryMap: MemoryMap);
        TensorAssert.AllClose(fixtures.Get("left.caption.loss"), CaptionLoss.Compute(captioner, Pixels("caption"), targets, CaptionLossSettings.Transformers).reshape(1),
            Atol, what: "left-padded caption loss");
    }

    /// <summary>The original BLIP's [ENC] first token (no transformers reference): swapped into each row's first column,
    /// so a right-padded batch still scores each text as alone.</summary>
    [Test]
    public void Enc_token_itm_of_mixed_length_texts_equals_each_text_alone()
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        matcher.UseEncToken = true;
        var texts = Strings("itm", "texts");
        var batch = matcher.Match(Image("rgb.png"), texts);
        for (int i = 0; i < texts.Length; i++)
        {
            var alone = matcher.Match(Image("rgb.png"), [texts[i]])[0];
            Assert.That(batch[i].ItmLogits, Is.EqualTo(alone.ItmLogits).Within(Atol), $"text {i} '{texts[i]}'");
        }
    }

    /// <summary>With a tokenizer that pads on the left, the original BLIP recipe's bos and prompt mask land on each row's
    /// own tokens: every row's real ids and labels equal the right-padded ones (no transformers reference: BLIP's code
    /// assumes right padding).</summary>
    [Test]
    public void Blip_recipe_targets_of_a_left_padding_tokenizer_are_the_right_padded_ones_moved()
    {
        using var scope = NewDisposeScope();
        var settings = CaptionLossSettings.OriginalBlip(Meta.Value.GetProperty("caption").GetProperty("blip_prompt").GetString()!);
        var captions = Strings("caption", "captions");
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("captioning"));
        using var right = CaptionTargets.Build(tokenizer, captions, settings);
        tokenizer.PaddingSide = TextSide.Left;
        using var left = CaptionTargets.Build(tokenizer, captions, settings);
        for (int i = 0; i < captions.Length; i++)
        {
            var rightRow = right.AttentionMask[i].ne(0);
            var leftRow = left.AttentionMask[i].ne(0);
            TensorAssert.Equal(right.InputIds[i].masked_select(rightRow), left.InputIds[i].masked_select(leftRow), $"caption {i} ids");
            TensorAssert.Equal(right.Labels[i].masked_select(rightRow), left.Labels[i].masked_select(leftRow), $"caption {i} labels");
        }
    }

    [TestCase("prompt.greedy")]
    [TestCase("prompt.beam3")]
    public void Captions_from_prompts_of_different_lengths_equal_transformers_batch_and_per_sequence_equals_each_alone(string key)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        var options = Options("prompt", key);
        var prompts = Strings("prompt", "prompts");
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("captioning"));
        var (ids, mask) = tokenizer.EncodeBatch(prompts).ToTensors();
        var pixels = Pixels("prompt");
        var alone = fixtures.Get(key + ".alone");
        using (var model = BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: MemoryMap))
        {
            // transformers keeps the shorter prompts' [SEP] and pads in the decoder input: not batch-invariant.
            using var batch = model.Generate(pixels, ids, mask, options);
            TensorAssert.Equal(fixtures.Get(key), batch.Sequences, key + " (transformers' layout)");
            Assert.That(Enumerable.Range(0, prompts.Length).Any(i => !batch.Tokens[i].SequenceEqual(Alone(alone, i))),
                "transformers' batch differs from the prompts alone (if not, the fixture no longer shows the padding)");
            using var perSequence = model.Generate(pixels, ids, mask, options with { PromptPadding = PromptPadding.PerSequence });
            for (int i = 0; i < prompts.Length; i++)
                Assert.That(perSequence.Tokens[i], Is.EqualTo(Alone(alone, i)), $"{key}: PerSequence row {i} = prompt '{prompts[i]}' alone");

            // The same prompts left-padded (padding_side="left", as transformers' warning recommends).
            var (leftIds, leftMask) = (fixtures.Get("prompt.left.input_ids"), fixtures.Get("prompt.left.attention_mask"));
            using var left = model.Generate(pixels, leftIds, leftMask, options);
            TensorAssert.Equal(fixtures.Get(key + ".left"), left.Sequences, key + " left-padded (transformers' layout)");
            using var leftPerSequence = model.Generate(pixels, leftIds, leftMask, options with { PromptPadding = PromptPadding.PerSequence });
            for (int i = 0; i < prompts.Length; i++)
                Assert.That(leftPerSequence.Tokens[i], Is.EqualTo(Alone(alone, i)), $"{key}: PerSequence of left-padded row {i} = prompt '{prompts[i]}' alone");
        }

        using var captioner = BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"));
        var images = Strings("prompt", "images");
        for (int i = 0; i < prompts.Length; i++)
            Assert.That(captioner.Caption(Image(images[i]), prompts[i], options).TokenIds, Is.EqualTo(Alone(alone, i)), $"{key}: pipeline, prompt '{prompts[i]}'");
    }

    [TestCase("vqa.greedy")]
    [TestCase("vqa.beam3")]
    public void Answers_to_questions_of_different_lengths_equal_transformers_batch_and_masked_padding_equals_each_alone(string key)
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures("batch");
        var options = Options("vqa", key);
        var questions = Strings("vqa", "questions");
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("vqa"));
        var (ids, mask) = tokenizer.EncodeBatch(questions).ToTensors();
        var pixels = Pixels("vqa");
        var alone = fixtures.Get(key + ".alone");
        using (var model = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"), memoryMap: MemoryMap))
        {
            // transformers' generate() cross-attends to every question position, pads included: not batch-invariant.
            using var batch = model.Generate(pixels, ids, mask, options);
            TensorAssert.Equal(fixtures.Get(key), batch.Sequences, key + " (transformers' all-ones cross mask)");
            Assert.That(Enumerable.Range(0, questions.Length).Any(i => !batch.Tokens[i].SequenceEqual(Alone(alone, i))),
                "transformers' batch differs from the questions alone (if not, the fixture no longer shows the padding)");
            using var left = model.Generate(pixels, fixtures.Get("vqa.left.input_ids"), fixtures.Get("vqa.left.attention_mask"), options);
            TensorAssert.Equal(fixtures.Get(key + ".left"), left.Sequences, key + " left-padded questions");
            model.MaskQuestionPaddingInDecoder = true;
            using var masked = model.Generate(pixels, ids, mask, options);
            for (int i = 0; i < questions.Length; i++)
                Assert.That(masked.Tokens[i], Is.EqualTo(Alone(alone, i)), $"{key}: masked question padding, row {i} = question '{questions[i]}' alone");
        }

        using var answerer = BlipQuestionAnswerer.Open(TinyFixtures.ModelFolder("vqa"));
        var images = Strings("vqa", "images");
        for (int i = 0; i < questions.Length; i++)
            Assert.That(answerer.Answer(Image(images[i]), questions[i], options).TokenIds, Is.EqualTo(Alone(alone, i)), $"{key}: pipeline, question '{questions[i]}'");
    }

    [Test]
    public void Vqa_answer_logits_and_loss_of_padded_questions_and_answers_equal_transformers()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var fixtures = new TinyFixtures("batch");
        using var model = BlipForQuestionAnswering.FromPretrained(TinyFixtures.ModelFolder("vqa"), memoryMap: MemoryMap);
        var ids = fixtures.Get("vqa.input_ids");
        var mask = fixtures.Get("vqa.attention_mask");
        var labels = fixtures.Get("vqa.labels");
        using var vision = model.VisionModel.forward(Pixels("vqa"));
        var question = model.EncodeQuestion(vision.LastHiddenState, ids, mask);
        var logits = model.AnswerLogits(question, mask, labels);                                            // [B,Ta,V]
        var head = fixtures.Get("vqa.answer_logits_head");
        TensorAssert.AllClose(fixtures.Get("vqa.answer_logsumexp"), logits.logsumexp(-1), Atol, what: "answer logsumexp");
        TensorAssert.AllClose(head, logits[.., .., ..(int)head.shape[2]], Atol, what: "answer logits_head");
        TensorAssert.AllClose(fixtures.Get("vqa.loss"), model.Loss(logits, labels).reshape(1), Atol, what: "VQA loss");
    }
}
