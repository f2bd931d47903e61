// BlipTokenizer's API around the parity corpus: special ids, batches, errors, warnings, threads.
using System.Collections.Concurrent;
using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Processing;
using static Blip.Engine.Tests.Processing.TokenizerFixtures;

namespace Blip.Engine.Tests.Processing;

public sealed class BlipTokenizerTests
{
    private string _tempDir = "";
    private BlipTokenizer _tokenizer = null!;

    [OneTimeSetUp]
    public void Load()
    {
        _tempDir = Path.Combine(Path.GetTempPath(), "blip-tokenizer-api-tests-" + Guid.NewGuid().ToString("N"));
        _tokenizer = Create("tokenizer.json", _tempDir);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        _tokenizer?.Dispose();
        if (Directory.Exists(_tempDir))
            Directory.Delete(_tempDir, recursive: true);
    }

    [Test]
    public void Special_ids_are_blips()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_tokenizer.PadTokenId, Is.EqualTo(0));
            Assert.That(_tokenizer.UnkTokenId, Is.EqualTo(100));
            Assert.That(_tokenizer.ClsTokenId, Is.EqualTo(101));
            Assert.That(_tokenizer.SepTokenId, Is.EqualTo(102));
            Assert.That(_tokenizer.MaskTokenId, Is.EqualTo(103));
            Assert.That(_tokenizer.BosTokenId, Is.EqualTo(30522));
            Assert.That(_tokenizer.EncTokenId, Is.EqualTo(30523));
            Assert.That(_tokenizer.VocabularySize, Is.EqualTo(30524));
            Assert.That(_tokenizer.ModelMaxLength, Is.EqualTo(512));
            Assert.That(_tokenizer.CleanUpTokenizationSpaces, Is.False);
            Assert.That(_tokenizer.TokenToId("[DEC]"), Is.EqualTo(30522));
            Assert.That(_tokenizer.IdToToken(30523), Is.EqualTo("[ENC]"));
            Assert.That(_tokenizer.IdToToken(30524), Is.Null);
        });
    }

    [Test]
    public void Batch_pads_on_the_right_to_the_longest_as_transformers()
    {
        var e = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDir, "batch.json"))).RootElement;
        var texts = e.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!).ToArray();
        var batch = _tokenizer.EncodeBatch(texts);
        var ids = e.GetProperty("input_ids").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt64()).ToArray()).ToArray();
        var mask = e.GetProperty("attention_mask").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt64()).ToArray()).ToArray();
        Assert.That(batch.InputIds, Is.EqualTo(ids));
        Assert.That(batch.AttentionMask, Is.EqualTo(mask));
        var (idTensor, maskTensor) = batch.ToTensors();
        using (idTensor)
        using (maskTensor)
        {
            Assert.That(idTensor.shape, Is.EqualTo(new long[] { texts.Length, ids[0].Length }));
            Assert.That(idTensor.dtype, Is.EqualTo(ScalarType.Int64));
            Assert.That(idTensor[2, 3].item<long>(), Is.EqualTo(ids[2][3]));
            Assert.That(maskTensor.sum().item<long>(), Is.EqualTo(mask.Sum(r => r.Sum())));
        }
    }

    [Test]
    public void Empty_batch_has_no_rows() => Assert.That(_tokenizer.EncodeBatch([]).Count, Is.Zero);

    [Test]
    public void Bad_arguments_throw_naming_them()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => _tokenizer.Encode(null!), Throws.ArgumentNullException.With.Property("ParamName").EqualTo("text"));
            Assert.That(() => _tokenizer.EncodeBatch(["a", null!]), Throws.ArgumentException.With.Message.Contains("texts[1]"));
            Assert.That(() => _tokenizer.Encode("a", maxLength: -1), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("maxLength"));
            Assert.That(() => _tokenizer.Encode("a", maxLength: 1), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("maxLength"));
            Assert.That(() => _tokenizer.Decode([7592, -1]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("ids[1]"));
            Assert.That(() => _tokenizer.Encode("a\ud800b"), Throws.ArgumentException.With.Property("ParamName").EqualTo("text"));
            Assert.That(() => _tokenizer.Decode(null!), Throws.ArgumentNullException);
        });
    }

    [Test]
    public void Out_of_range_ids_are_dropped_on_decode_as_transformers() =>
        Assert.That(_tokenizer.Decode([7592, 30524, 99999, 2088]), Is.EqualTo("hello world"));

    [Test]
    public void Truncation_and_overlong_texts_are_warned_about()
    {
        var warnings = new List<string>();
        using var tokenizer = BlipTokenizer.FromVocabulary(VocabPath);
        tokenizer.Warning = warnings.Add;
        tokenizer.Encode("a picture of a dog", maxLength: 4);
        tokenizer.Encode("a picture of a dog", maxLength: 40);
        tokenizer.Encode(string.Concat(Enumerable.Repeat("dog ", 600)));
        Assert.That(warnings, Has.Count.EqualTo(2));
        Assert.That(warnings[0], Does.Contain("from 7 to 4 tokens"));
        Assert.That(warnings[1], Does.Contain("(602 > 512)"));
    }

    [Test]
    public void Clean_up_tokenization_spaces_follows_tokenizer_config()
    {
        string dir = Path.Combine(_tempDir, "cleanup");
        WriteHubVocabFolder(dir);
        string config = Path.Combine(dir, "tokenizer_config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("{", "{\"clean_up_tokenization_spaces\": true,", StringComparison.Ordinal));
        using var tokenizer = BlipTokenizer.Load(dir);
        long[] ids = tokenizer.Encode("he's a dog. isn't it?");
        Assert.That(_tokenizer.Decode(ids), Is.EqualTo("he ' s a dog. isn ' t it?"));
        Assert.That(tokenizer.Decode(ids), Is.EqualTo("he's a dog. isn't it?"));
    }

    [Test]
    public void Explicit_added_token_ids_of_tokenizer_config_win()
    {
        string dir = Path.Combine(_tempDir, "added-tokens-decoder");
        WriteHubVocabFolder(dir);
        string config = Path.Combine(dir, "tokenizer_config.json");
        const string Decoder = "{\"added_tokens_decoder\": {\"30522\": {\"content\": \"[ENC]\", \"special\": true}, " +
            "\"30523\": {\"content\": \"[DEC]\", \"special\": true}},";
        File.WriteAllText(config, File.ReadAllText(config).Replace("{", Decoder, StringComparison.Ordinal));
        using var tokenizer = BlipTokenizer.Load(dir);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.BosTokenId, Is.EqualTo(30523));
            Assert.That(tokenizer.EncTokenId, Is.EqualTo(30522));
            Assert.That(tokenizer.Encode("[DEC] x"), Is.EqualTo(new long[] { 101, 30523, 1060, 102 }));
            Assert.That(tokenizer.Decode([101, 30523, 1060, 102]), Is.EqualTo("x"));
        });
    }

    [Test]
    public void Vocabulary_without_the_unknown_token_is_refused()
    {
        string vocab = Path.Combine(_tempDir, "tiny-vocab.txt");
        Directory.CreateDirectory(_tempDir);
        File.WriteAllText(vocab, "[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
        Assert.That(() => BlipTokenizer.FromVocabulary(vocab), Throws.TypeOf<ConfigException>()
            .With.Message.Contains(vocab).And.Message.Contains("[UNK]"));
    }

    [Test]
    public void Load_names_what_is_missing()
    {
        string empty = Path.Combine(_tempDir, "empty");
        Directory.CreateDirectory(empty);
        Assert.That(() => BlipTokenizer.Load(empty), Throws.TypeOf<FileNotFoundException>().With.Message.Contains(empty));
        Assert.That(() => BlipTokenizer.Load(Path.Combine(_tempDir, "nowhere")), Throws.TypeOf<DirectoryNotFoundException>().With.Message.Contains("nowhere"));
        string bad = Path.Combine(_tempDir, "bad");
        Directory.CreateDirectory(bad);
        File.WriteAllText(Path.Combine(bad, "tokenizer.json"), "{");
        Assert.That(() => BlipTokenizer.Load(bad), Throws.TypeOf<ConfigException>().With.Message.Contains("tokenizer.json"));
    }

    [Test]
    public void Disposed_tokenizer_refuses_work()
    {
        var tokenizer = BlipTokenizer.FromVocabulary(VocabPath);
        tokenizer.Dispose();
        tokenizer.Dispose();
        Assert.That(() => tokenizer.Encode("a"), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void Concurrent_use_gives_the_same_ids_while_other_tokenizers_come_and_go()
    {
        var corpus = Corpus();
        var failures = new ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            for (int k = 0; k < 400; k++)
            {
                var c = corpus[(worker * 41 + k) % corpus.Count];
                if (!_tokenizer.Encode(c.Text).SequenceEqual(c.Ids))
                    failures.Add($"worker {worker}, corpus line {c.Line}: ids differ");
                if (_tokenizer.Decode(c.Ids) != c.Decoded)
                    failures.Add($"worker {worker}, corpus line {c.Line}: text differs");
                if (worker == 0 && k % 100 == 0)
                {
                    using var other = BlipTokenizer.FromVocabulary(VocabPath);
                    other.Encode(c.Text);
                }
            }
        });
        Assert.That(failures, Is.Empty, failures.FirstOrDefault());
    }
}
