using System.Text.Json;
using Blip.Engine.Generation;
using Blip.Engine.Pipelines;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Pipelines;

/// <summary>A tokenizer that save_pretrained left truncating (tokenizer.json's truncation and fixed padding at 8, as a
/// fine-tuning recipe's processor call writes them): BlipProcessor truncates its unpadded calls to 8 and not its
/// padding=True calls; the pipelines do the same. Expected values: tools/reference/make_processor_truncation_fixture.py.</summary>
public class ProcessorTruncationTests
{
    private static readonly JsonElement Expected =
        JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tokenizer", "resaved_truncating", "expected.json"))).RootElement;

    private static string Long => Expected.GetProperty("long").GetString()!;

    private static long[] Ids(string key) => [.. Expected.GetProperty(key).EnumerateArray().Select(e => e.GetInt64())];

    private static long[][] Rows(string key) =>
        [.. Expected.GetProperty(key).EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetInt64()).ToArray())];

    private static string Image(string name) => TestPaths.Fixture("tiny", "images", name);

    /// <summary>A tiny model folder with the re-saved tokenizer files.</summary>
    private static TempDir Folder(string model)
    {
        var dir = TestPaths.NewTempDir();
        TestPaths.CopyFiles(TinyFixtures.ModelFolder(model), dir.Path);
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(TestPaths.Fixture("tokenizer", "resaved_truncating", name), Path.Combine(dir.Path, name), overwrite: true);
        return dir;
    }

    [Test]
    public void The_tokenizer_alone_does_not_truncate_but_knows_the_processors_length()
    {
        using var dir = Folder("captioning");
        using var tokenizer = BlipTokenizer.Load(dir.Path);
        Assert.That(tokenizer.ProcessorMaxLength, Is.EqualTo(Expected.GetProperty("length").GetInt32()));
        Assert.That(tokenizer.Encode(Long), Is.EqualTo(Ids("tokenizer_long")));
        Assert.That(tokenizer.Encode(Long, maxLength: tokenizer.ProcessorMaxLength), Is.EqualTo(Ids("processor_long")));
        var padded = tokenizer.EncodeBatch([Long, Expected.GetProperty("short").GetString()!]);
        Assert.That(padded.InputIds, Is.EqualTo(Rows("processor_long_short_padded")), "padding=True: not truncated");
    }

    [Test]
    public void The_tokenizer_configs_max_length_is_the_processors_length_too()
    {
        using var dir = TestPaths.NewTempDir();
        TestPaths.CopyFiles(TinyFixtures.ModelFolder("captioning"), dir.Path);
        string config = Path.Combine(dir.Path, "tokenizer_config.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(config))!;
        json["max_length"] = Expected.GetProperty("config_max_length").GetInt32();
        File.WriteAllText(config, json.ToJsonString());
        using var tokenizer = BlipTokenizer.Load(dir.Path);
        Assert.That(tokenizer.Encode(Long, maxLength: tokenizer.ProcessorMaxLength), Is.EqualTo(Ids("config_max_length_processor_long")));
    }

    [Test]
    public void Caption_with_a_long_prompt_equals_transformers()
    {
        using var dir = Folder("captioning");
        using var captioner = BlipCaptioner.Open(dir.Path);
        var caption = captioner.Caption(Image("rgb.png"), Long, new GenerationOptions { MaxLength = 20 });
        Assert.That(caption.TokenIds, Is.EqualTo(Ids("caption_rgb_long")));
    }

    [Test]
    public void Answer_to_a_long_question_equals_transformers()
    {
        using var dir = Folder("vqa");
        using var answerer = BlipQuestionAnswerer.Open(dir.Path);
        var answer = answerer.Answer(Image("gray.jpg"), Long, new GenerationOptions { MaxLength = 10 });
        Assert.That(answer.TokenIds, Is.EqualTo(Ids("answer_gray_long")));
    }

    [Test]
    public void Match_of_one_long_text_equals_transformers()
    {
        using var dir = Folder("retrieval");
        using var matcher = BlipMatcher.Open(dir.Path);
        var logits = matcher.Match(Image("rgb.png"), [Long])[0].ItmLogits;
        var expected = Expected.GetProperty("itm_logits_rgb_long").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.That(logits, Is.EqualTo(expected).Within(1e-4), $"ITM logits, worst |diff| {logits.Zip(expected, (a, b) => Math.Abs(a - b)).Max():G3}");
    }

    [Test]
    public void Rank_reads_its_texts_as_one_padded_call_whatever_its_chunks_and_top_k()
    {
        // EmbedTexts of two texts is one padding=True call (not truncated), even for its ITM re-scoring of the top 1;
        // the same texts in the folder without a saved truncation give the same numbers.
        string[] texts = [Long, "two cats sitting on a bed near a window"];  // both over the saved length of 8
        using var dir = Folder("retrieval");
        using var resaved = BlipMatcher.Open(dir.Path);
        using var plain = BlipMatcher.Open(TinyFixtures.ModelFolder("retrieval"));
        using var image = resaved.EmbedImage(Image("rgb.png"));
        using var embeddings = resaved.EmbedTexts(texts);
        var top = resaved.Rank(image, embeddings, topK: 1)[0];
        var expected = plain.Match(Image("rgb.png"), texts)[top.Index];
        using (var tokenizer = BlipTokenizer.Load(dir.Path))
            Assert.That(tokenizer.Encode(texts[top.Index]), Has.Length.GreaterThan(tokenizer.ProcessorMaxLength!.Value), "the top text is one a truncation would cut");
        Assert.That(top.Cosine, Is.EqualTo(expected.Cosine).Within(1e-5), "ITC of the padded call");
        Assert.That(top.ItmProbability, Is.EqualTo(expected.ItmProbability).Within(1e-5), "ITM of the top text, as in the padded call");
        var alone = resaved.Match(Image("rgb.png"), [Long])[0];
        Assert.That(alone.ItmProbability, Is.Not.EqualTo(plain.Match(Image("rgb.png"), [Long])[0].ItmProbability).Within(1e-4),
            "one long text alone is truncated (so the numbers above show the padded call's reading)");
    }
}
