using Blip.Engine.Pipelines;
using Blip.Engine.Tests.Generation;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Pipelines;

/// <summary>The front door end to end: image files → preprocessing → model → ids/text, against transformers' outputs
/// for the same files.</summary>
public class PipelineTests
{
    private static string Image(string name) => TestPaths.Fixture("tiny", "images", name);

    internal static long[] Row(Tensor ids, int row, long pad)
    {
        var values = ids[row].data<long>().ToArray();
        int end = values.Length;
        while (end > 0 && values[end - 1] == pad) end--;
        return values[..end];
    }

    [Test]
    public void Captions_from_image_files_equal_transformers_generate()
    {
        using var fixtures = new TinyFixtures();
        using var captioner = BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"));
        // the fixture's kwargs (max_length 20), not the default of 20 new tokens
        var options = GenerationCase.Tiny().Single(c => c.Name == "captioning.generate.greedy").Options;
        var results = captioner.Caption([Image("rgb.png"), Image("gray.jpg")], options: options);
        var expected = fixtures.Get("captioning.generate.greedy");
        Assert.That(results[0].TokenIds, Is.EqualTo(Row(expected, 0, 0)));
        Assert.That(results[1].TokenIds, Is.EqualTo(Row(expected, 1, 0)));
        Assert.That(results[0].Image, Does.EndWith("rgb.png"));
        Assert.That(results[1].Text, Is.Not.Empty);
        var single = captioner.Caption(Image("gray.jpg"), options: options);
        Assert.That(single.TokenIds, Is.EqualTo(results[1].TokenIds), "a batch gives each image its own caption");
    }

    /// <summary>TorchSharp frees an implicit Scalar in its finalizer, which a background collection could run while
    /// libtorch still read it (Modules/ScalarLifetime.cs): before that module, 4 of 4 such loops failed after 71–627
    /// captions with libtorch's "Expected false to be true" from Scalar::toFloat.</summary>
    [Test]
    public void A_thousand_captions_in_one_process_all_succeed_and_agree()
    {
        using var captioner = BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"));
        var expected = captioner.Caption(Image("rgb.png")).TokenIds;
        for (int i = 0; i < 1000; i++)
        {
            var ids = captioner.Caption(Image("rgb.png")).TokenIds;
            Assert.That(ids, Is.EqualTo(expected), $"caption {i} of 1000");
        }
    }

    [Test]
    public void Concurrent_callers_get_the_same_captions_as_one_caller()
    {
        using var captioner = BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"));
        var expected = captioner.Caption(Image("rgb.png")).TokenIds;
        var results = new IReadOnlyList<long>[4];
        Parallel.For(0, results.Length, i => results[i] = captioner.Caption(Image("rgb.png")).TokenIds);
        Assert.That(results, Has.All.EqualTo(expected));
    }

    [Test]
    public void Answers_equal_transformers_generate_for_an_unpadded_question()
    {
        using var fixtures = new TinyFixtures();
        using var answerer = BlipQuestionAnswerer.Open(TinyFixtures.ModelFolder("vqa"));
        var answer = answerer.Answer(Image("gray.jpg"), "What colour is the café's umbrella?");
        Assert.That(answer.TokenIds, Is.EqualTo(Row(fixtures.Get("vqa.generate"), 1, 0)));
    }

    [Test]
    public void Answers_returns_every_beam_transformers_returns()
    {
        using var fixtures = new TinyFixtures("generation");
        var options = GenerationCase.All().Single(c => c.Name == "vqa.beam3_return3").Options;
        using var answerer = BlipQuestionAnswerer.Open(TinyFixtures.ModelFolder("vqa"));
        // the fixture's second question (rows 3..5) is the unpadded one, so alone it gives the batch's rows
        var answers = answerer.Answers(Image("gray.jpg"), "What colour is the café's umbrella?", options);
        var expected = fixtures.Get("vqa.beam3_return3");
        // transformers' sequences run on to max_length after a beam's eos (102); a result's TokenIds end at the first eos
        static long[] UpToEos(long[] row) => Array.IndexOf(row, 102L, 1) is var eos and >= 0 ? row[..(eos + 1)] : row;
        Assert.That(answers.Select(a => a.TokenIds), Is.EqualTo(Enumerable.Range(3, 3).Select(r => UpToEos(Row(expected, r, 0)))));
        Assert.That(answers.Select(a => a.Image), Has.All.EqualTo(Image("gray.jpg")));
    }

    [Test]
    public void One_result_methods_refuse_several_return_sequences()
    {
        var options = new Blip.Engine.Generation.GenerationOptions { NumBeams = 3, NumReturnSequences = 2 };
        using var answerer = BlipQuestionAnswerer.Open(TinyFixtures.ModelFolder("vqa"));
        var e = Assert.Throws<ArgumentException>(() => answerer.Answer(Image("gray.jpg"), "what is it?", options))!;
        Assert.That(e.Message, Does.Contain("NumReturnSequences").And.Contain("Answers"));
        using var captioner = BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"));
        e = Assert.Throws<ArgumentException>(() => captioner.Caption(Image("gray.jpg"), options: options))!;
        Assert.That(e.Message, Does.Contain("NumReturnSequences").And.Contain("Caption([path])"));
        Assert.That(captioner.Caption([Image("gray.jpg")], options: options), Has.Count.EqualTo(2));
    }

    [Test]
    public void Match_gives_transformers_itm_logits_and_itc_cosine()
    {
        using var fixtures = new TinyFixtures();
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        var result = matcher.Match(Image("rgb.png"), ["A woman and a dog sitting together on a beach."])[0];
        var logits = fixtures.Get("retrieval.itm_logits")[0];
        Assert.That(result.ItmLogits[0], Is.EqualTo(logits[0].item<float>()).Within(1e-4));
        Assert.That(result.ItmLogits[1], Is.EqualTo(logits[1].item<float>()).Within(1e-4));
        Assert.That(result.ItmProbability, Is.EqualTo(logits.softmax(0)[1].item<float>()).Within(1e-4));
        Assert.That(result.Cosine, Is.EqualTo(fixtures.Get("retrieval.itc_cosine")[0, 0].item<float>()).Within(1e-4));
    }

    /// <summary>Rank's probabilities are Match's for the same pair, in bfloat16 too: Rank and RankImages took the softmax
    /// of the bfloat16 logits (0.1553 for one pair that Match, from the same logits in float32, gave 0.1618).</summary>
    [TestCase("float32")]
    [TestCase("bfloat16")]
    public void Rank_orders_by_itc_and_rescores_the_top_k_with_itm(string dtype)
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"), new BlipLoadOptions { DType = dtype });
        string[] texts = ["a dog on a beach", "a red car", "naïve résumé — ok?", "two cats", "a bowl of soup", "A woman and a dog."];
        using var image = matcher.EmbedImage(Image("rgb.png"));
        using var embedded = matcher.EmbedTexts(texts);
        var ranked = matcher.Rank(image, embedded, topK: 3);
        var direct = matcher.Match(Image("rgb.png"), texts);
        Assert.That(ranked.Select(r => r.Index).Order(), Is.EqualTo(Enumerable.Range(0, texts.Length)));
        var top = ranked.Take(3).ToList();
        Assert.That(top.Select(r => r.ItmProbability), Is.All.Not.Null);
        Assert.That(top.Select(r => r.ItmProbability!.Value), Is.Ordered.Descending);
        Assert.That(ranked.Skip(3).Select(r => r.ItmProbability), Is.All.Null);
        Assert.That(ranked.Skip(3).Select(r => r.Cosine), Is.Ordered.Descending);
        Assert.That(top.Min(r => r.Cosine), Is.GreaterThanOrEqualTo(ranked.Skip(3).Max(r => r.Cosine)), "the top k are the best by ITC");
        foreach (var r in ranked)
        {
            Assert.That(r.Cosine, Is.EqualTo(direct[r.Index].Cosine).Within(1e-5));
            if (r.ItmProbability is { } p) Assert.That(p, Is.EqualTo(direct[r.Index].ItmProbability).Within(1e-5));
        }
        var images = matcher.RankImages([image], texts[top[0].Index], topK: 1);
        Assert.That(images[0].ItmProbability, Is.EqualTo(direct[top[0].Index].ItmProbability).Within(1e-5), "RankImages");
    }

    [Test]
    public void Empty_texts_match_to_nothing_and_a_negative_top_k_is_named()
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        Assert.That(matcher.Match(Image("rgb.png"), []), Is.Empty);
        Assert.Throws<Blip.Engine.Processing.ImageDecodeException>(() => matcher.Match("/no/such/image.png", []), "the image is still read");
        using var image = matcher.EmbedImage(Image("rgb.png"));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => matcher.RankImages([image], "a dog", topK: -1));
        Assert.That(e!.ParamName, Is.EqualTo("topK"));
    }

    /// <summary>No texts embed to a [0,E] tensor of the model's dtype (and device), as any other list does: it was float32
    /// on the CPU whatever the model, so Rank of a model on CUDA would have multiplied a CPU tensor by a CUDA one.</summary>
    [TestCase("float32")]
    [TestCase("bfloat16")]
    [TestCase("float16")]
    public void No_texts_embed_in_the_models_dtype_and_rank_to_nothing(string dtype)
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"), new BlipLoadOptions { DType = dtype });
        using var some = matcher.EmbedTexts(["a dog"]);
        using var none = matcher.EmbedTexts([]);
        Assert.That((none.Features.dtype, none.Features.device_type, none.Features.shape),
            Is.EqualTo((some.Features.dtype, some.Features.device_type, new[] { 0L, some.Features.shape[1] })));
        using var image = matcher.EmbedImage(Image("rgb.png"));
        Assert.That(matcher.Rank(image, none), Is.Empty);
    }

    /// <summary>Embeddings made by a matcher of another dtype (one instance per thread, opened differently) are refused
    /// naming the argument and both dtypes. Rank multiplied them as they were: libtorch's matmul of float32 texts by a
    /// bfloat16 image feature threw through TorchSharp and ended the process ("terminate called after throwing an instance
    /// of 'c10::Error'"), where torch raises a RuntimeError for the same product.</summary>
    [Test]
    public void Embeddings_of_another_dtype_are_refused_naming_the_argument()
    {
        using var fp32 = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        using var bf16 = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"), new BlipLoadOptions { DType = "bfloat16" });
        using var image32 = fp32.EmbedImage(Image("rgb.png"));
        using var image16 = bf16.EmbedImage(Image("rgb.png"));
        using var texts32 = fp32.EmbedTexts(["a dog", "two cats"]);
        var image = Assert.Throws<ArgumentException>(() => fp32.Rank(image16, texts32));
        Assert.That(image!.ParamName, Is.EqualTo("image"));
        Assert.That(image.Message, Does.Contain("BFloat16").And.Contain("Float32"));
        var texts = Assert.Throws<ArgumentException>(() => bf16.Rank(image16, texts32));
        Assert.That(texts!.ParamName, Is.EqualTo("texts"));
        var images = Assert.Throws<ArgumentException>(() => fp32.RankImages([image32, image16], "a dog"));
        Assert.That((images!.ParamName, images.Message.Contains("images[1]", StringComparison.Ordinal)), Is.EqualTo(("images", true)), images.Message);
        Assert.That(fp32.Rank(image32, texts32), Has.Count.EqualTo(2), "this matcher's own embeddings still rank");
    }

    [Test]
    public void Null_and_disposed_embeddings_are_named()
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        using var kept = matcher.EmbedImage(Image("rgb.png"));
        var gone = matcher.EmbedImage(Image("gray.jpg"));
        gone.Dispose();
        var missing = Assert.Throws<ArgumentException>(() => matcher.RankImages([kept, null!], "a dog"));
        Assert.That(missing!.Message, Does.Contain("images[1]"));
        var disposed = Assert.Throws<ObjectDisposedException>(() => matcher.RankImages([kept, gone], "a dog"));
        Assert.That(disposed!.Message, Does.Contain("gray.jpg"));
        var texts = matcher.EmbedTexts(["a dog"]);
        texts.Dispose();
        Assert.Throws<ObjectDisposedException>(() => matcher.Rank(gone, texts));
        Assert.Throws<ObjectDisposedException>(() => matcher.Rank(kept, texts));
    }

    /// <summary>A null or empty image path or text names the matcher's own parameter: they were reported as the image
    /// decoder's "path" and the tokenizer's "texts[0]" (RankImages has no parameter called texts).</summary>
    [Test]
    public void Null_image_paths_and_texts_are_named_as_the_matchers_parameters()
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => matcher.Match(null!, ["a dog"]))!.ParamName, Is.EqualTo("imagePath"));
        Assert.That(Assert.Throws<ArgumentException>(() => matcher.Match("", ["a dog"]))!.ParamName, Is.EqualTo("imagePath"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => matcher.EmbedImage(null!))!.ParamName, Is.EqualTo("imagePath"));
        using var image = matcher.EmbedImage(Image("rgb.png"));
        Assert.That(Assert.Throws<ArgumentNullException>(() => matcher.RankImages([image], null!))!.ParamName, Is.EqualTo("text"));
    }

    [Test]
    public void Enc_token_option_changes_the_first_itm_token()
    {
        using var matcher = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        var cls = matcher.Match(Image("rgb.png"), ["a dog"])[0];
        matcher.UseEncToken = true;
        var enc = matcher.Match(Image("rgb.png"), ["a dog"])[0];
        Assert.That(enc.ItmLogits[0], Is.Not.EqualTo(cls.ItmLogits[0]));
        Assert.That(enc.Cosine, Is.EqualTo(cls.Cosine), "ITC does not use the ITM token");
    }

    [Test]
    public void Bad_arguments_are_named()
    {
        // The names are BlipLoadOptions' properties (the parser's own parameter, "text", named nothing a caller set).
        var dtype = Assert.Throws<ArgumentException>(() => BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"), new BlipLoadOptions { DType = "int8" }));
        Assert.That(dtype!.ParamName, Is.EqualTo("DType"));
        var tpu = Assert.Throws<ArgumentException>(() => BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"), new BlipLoadOptions { Device = "tpu" }));
        Assert.That(tpu!.ParamName, Is.EqualTo("Device"));
        var cuda = Assert.Throws<ArgumentException>(() => BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"), new BlipLoadOptions { Device = "cuda" }));
        Assert.That((cuda!.ParamName, cuda.Message.Contains("CUDA", StringComparison.Ordinal)), Is.EqualTo(("Device", true)), cuda.Message);
        using var captioner = BlipCaptioner.Open(TinyFixtures.ModelFolder("captioning"));
        var missing = Assert.Throws<Blip.Engine.Processing.ImageDecodeException>(() => captioner.Caption("/no/such/image.png"));
        Assert.That(missing!.Message, Does.Contain("/no/such/image.png"));
    }
}
