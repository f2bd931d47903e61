// Malformed tokenizer files: tokenizer.json, vocab.txt and the two config files. Every one is refused with the
// file and the entry at fault, or read as transformers reads it; none crashes, hangs or loads wrongly.
using System.Text.Json.Nodes;
using Blip.Engine.Config;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class TokenizerFileTests
{
    private const string TinyVocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n";

    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("blip-tokenizer-files-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    /// <summary>A tiny BERT tokenizer.json (the document built from <see cref="TinyVocab"/>), changed by <paramref name="edit"/>.</summary>
    private string WriteTokenizerJson(Action<JsonObject> edit)
    {
        string vocab = WriteFile("tiny-vocab.txt", TinyVocab);
        var root = (JsonObject)TokenizerJson.FromVocabulary(vocab, new TokenizerSettings()).Root.DeepClone();
        edit(root);
        return WriteFile("tokenizer.json", root.ToJsonString());
    }

    private string WriteFile(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static JsonObject Vocab(JsonObject root) => root["model"]!["vocab"]!.AsObject();

    private static void AssertRefused(string path, string field, params string[] details)
    {
        var e = Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(path).Dispose())!;
        Assert.That((e.File, e.Field), Is.EqualTo((path, field)), e.Message);
        Assert.That(e.Message, Does.Contain(path).And.Contain(field));
        foreach (var detail in details)
            Assert.That(e.Message, Does.Contain(detail));
    }

    [Test]
    public void The_tiny_tokenizer_json_loads() // the base every other case here breaks
    {
        using var tokenizer = BlipTokenizer.FromTokenizerJson(WriteTokenizerJson(_ => { }));
        Assert.That(tokenizer.Encode("Hello worlds"), Is.EqualTo(new long[] { 2, 5, 6, 7, 3 }));
    }

    [Test]
    public void Vocab_id_that_is_negative_is_named() =>
        AssertRefused(WriteTokenizerJson(r => Vocab(r)["world"] = -1), "model.vocab['world']", "-1");

    [Test]
    public void Vocab_id_that_is_not_an_integer_is_named() =>
        AssertRefused(WriteTokenizerJson(r => Vocab(r)["world"] = "six"), "model.vocab['world']", "six");

    [Test]
    public void Vocab_id_far_beyond_any_vocabulary_is_refused_without_allocating_for_it() =>
        AssertRefused(WriteTokenizerJson(r => Vocab(r)["world"] = 2_000_000_000), "model.vocab['world']", "2000000000");

    [Test]
    public void Two_vocab_tokens_with_one_id_are_named() =>
        AssertRefused(WriteTokenizerJson(r => Vocab(r)["world"] = 5), "model.vocab", "'hello'", "'world'", "5");

    [Test]
    public void Added_token_without_content_or_id_is_named()
    {
        AssertRefused(WriteTokenizerJson(r => r["added_tokens"]![0]!.AsObject().Remove("content")), "added_tokens[0]");
        AssertRefused(WriteTokenizerJson(r => r["added_tokens"]![1]!["id"] = "x"), "added_tokens[1].id", "\"x\"");
    }

    [Test]
    public void Post_processor_of_tokenizer_json_is_not_used_so_an_id_that_names_no_token_is_harmless()
    {
        // transformers 5's BertTokenizer replaces the file's post-processor with [CLS] $A [SEP] from the configs
        // (checked with transformers 5.12.1: [CLS] id 999 in the file, ids [101, 100, 1008, 102] for "zzqx dog").
        using var tokenizer = BlipTokenizer.FromTokenizerJson(WriteTokenizerJson(r => r["post_processor"]!["special_tokens"]!["[CLS]"]!["ids"] = new JsonArray(999)));
        Assert.That(tokenizer.Encode("hello worlds"), Is.EqualTo(new long[] { 2, 5, 6, 7, 3 }));
    }

    [Test]
    public void Malformed_bert_post_processor_is_named() =>
        AssertRefused(WriteTokenizerJson(r => r["post_processor"] = new JsonObject { ["type"] = "BertProcessing", ["cls"] = "[CLS]" }),
            "post_processor.cls");

    [Test]
    public void A_key_or_string_that_is_not_text_names_the_file()
    {
        // "\ud800" alone is valid JSON but no text; System.Text.Json's InvalidOperationException named no file.
        string key = WriteFile("tokenizer.json", File.ReadAllText(WriteTokenizerJson(_ => { })).Replace("\"world\"", "\"world\\ud800\"", StringComparison.Ordinal));
        Assert.That(Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(key).Dispose())!.File, Is.EqualTo(key));
        string value = WriteTokenizerJson(r => r["added_tokens"]![0]!["content"] = "x");
        File.WriteAllText(value, File.ReadAllText(value).Replace("\"content\":\"x\"", "\"content\":\"x\\udc00\"", StringComparison.Ordinal));
        Assert.That(Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(value).Dispose())!.File, Is.EqualTo(value));
    }

    [Test]
    public void Template_post_processor_whose_single_is_not_a_list_of_pieces_is_named()
    {
        // Read as an empty template, these encoded every text without [CLS] and [SEP], silently.
        AssertRefused(WriteTokenizerJson(r => r["post_processor"]!["single"] = null), "post_processor.single", "null");
        AssertRefused(WriteTokenizerJson(r => r["post_processor"]!["single"] = new JsonArray("x")), "post_processor.single", "\"x\"");
    }

    [TestCase("")]       // tokenizers panics at load: "Cannot parse precompiled_charsmap"
    [TestCase("BAAAAAAAAAA=")] // loads, then panics at the first encode: index out of bounds
    public void Precompiled_normalizer_is_refused_before_the_native_library_can_abort_on_it(string charsmap)
    {
        AssertRefused(WriteTokenizerJson(r => r["normalizer"] = new JsonObject { ["type"] = "Precompiled", ["precompiled_charsmap"] = charsmap }),
            "normalizer", "Precompiled");
        AssertRefused(WriteTokenizerJson(r => r["normalizer"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "Precompiled", ["precompiled_charsmap"] = charsmap }),
        }), "normalizer", "Precompiled");
    }

    [Test]
    public void Model_unknown_token_of_tokenizer_json_is_not_used_the_configs_is()
    {
        // transformers 5's BertTokenizer builds its WordPiece with the config's unk_token ([UNK] by default), whatever
        // the file's model.unk_token (checked with transformers 5.12.1: "<unk>" in the file, "zzqx" encodes as [UNK]).
        using var tokenizer = BlipTokenizer.FromTokenizerJson(WriteTokenizerJson(r => r["model"]!["unk_token"] = "<unk>"));
        Assert.That(tokenizer.Encode("zzqx hello"), Is.EqualTo(new long[] { 2, 1, 5, 3 }));
    }

    [Test]
    public void Repeated_vocab_key_keeps_the_last_as_tokenizers_does()
    {
        string path = WriteTokenizerJson(_ => { });
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"world\":6", "\"world\":9,\"world\":6", StringComparison.Ordinal));
        using var tokenizer = BlipTokenizer.FromTokenizerJson(path);
        Assert.That(tokenizer.TokenToId("world"), Is.EqualTo(6));
    }

    [TestCase("\r\n")]
    [TestCase("\r")]
    public void Vocab_txt_with_windows_or_old_mac_line_ends_reads_as_python_does(string newline)
    {
        // transformers' load_vocab reads in text mode, where "\r\n" and "\r" end lines as "\n" does.
        string vocab = WriteFile("vocab.txt", TinyVocab.Replace("\n", newline, StringComparison.Ordinal));
        using var tokenizer = BlipTokenizer.FromVocabulary(vocab);
        Assert.That(tokenizer.Encode("hello worlds"), Is.EqualTo(new long[] { 2, 5, 6, 7, 3 }));
        Assert.That(tokenizer.BosTokenId, Is.EqualTo(8));
    }

    [Test]
    public void Empty_vocab_txt_is_called_empty()
    {
        string vocab = WriteFile("vocab.txt", "");
        Assert.That(() => BlipTokenizer.FromVocabulary(vocab), Throws.TypeOf<ConfigException>()
            .With.Message.Contains(vocab).And.Message.Contains("empty"));
    }

    [Test]
    public void Repeated_vocab_line_that_would_give_an_added_token_the_id_of_a_word_is_refused()
    {
        // The repeated "world" keeps its last line (transformers' load_vocab), so the 7 entries have ids 0-4, 6, 7;
        // tokenizers numbers added tokens from the entry count and would give [DEC] id 7, the id of "world" too.
        string vocab = WriteFile("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nworld\nhello\nworld\n");
        Assert.That(() => BlipTokenizer.FromVocabulary(vocab), Throws.TypeOf<ConfigException>()
            .With.Message.Contains(vocab).And.Message.Contains("'[DEC]'").And.Message.Contains("'world'"));
    }

    [Test]
    public void Added_token_ids_are_the_ones_tokenizers_gives_not_the_files()
    {
        // tokenizers ignores the ids of added_tokens and numbers new ones from the vocabulary's size: 8 and 9 here.
        string path = WriteTokenizerJson(r =>
        {
            r["added_tokens"]![5]!["id"] = 12;
            r["added_tokens"]![6]!["id"] = 13;
        });
        using var tokenizer = BlipTokenizer.FromTokenizerJson(path);
        Assert.Multiple(() =>
        {
            Assert.That((tokenizer.BosTokenId, tokenizer.EncTokenId), Is.EqualTo((8, 9)));
            Assert.That(tokenizer.Encode("[DEC] hello", addSpecialTokens: false), Is.EqualTo(new long[] { 8, 5 }));
            Assert.That(tokenizer.IdToToken(8), Is.EqualTo("[DEC]"));
            Assert.That(tokenizer.IdToToken(12), Is.Null);
        });
    }

    [Test]
    public void Added_tokens_decoder_content_that_is_not_text_is_named()
    {
        string vocab = WriteFile("vocab.txt", TinyVocab);
        string config = WriteFile("tokenizer_config.json", """{"added_tokens_decoder": {"8": {"content": 8}}}""");
        Assert.That(() => BlipTokenizer.FromVocabulary(vocab, config), Throws.TypeOf<ConfigException>()
            .With.Message.Contains(config).And.Message.Contains("added_tokens_decoder"));
    }

    [Test]
    public void Special_token_of_special_tokens_map_missing_from_tokenizer_json_is_added_after_its_tokens()
    {
        // transformers adds the special tokens the configs name and the file lacks, numbered after the file's
        // (Fixtures/tokenizer/cases/tj_bert_with_hub_configs_pad_new); it used to be refused here.
        string path = WriteTokenizerJson(_ => { });
        string map = WriteFile("special_tokens_map.json", """{"pad_token": "<pad>"}""");
        using var tokenizer = BlipTokenizer.FromTokenizerJson(path, null, map);
        Assert.That((tokenizer.PadTokenId, tokenizer.VocabularySize), Is.EqualTo((10, 11)));
        Assert.That(tokenizer.EncodeBatch(["hello", "hello worlds"]).InputIds[0], Is.EqualTo(new long[] { 2, 5, 3, 10, 10 }));
    }

    [Test]
    public void Unknown_token_of_special_tokens_map_missing_from_the_vocab_names_both_files()
    {
        string path = WriteTokenizerJson(_ => { });
        string map = WriteFile("special_tokens_map.json", """{"unk_token": "<unk>"}""");
        var e = Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(path, null, map).Dispose())!;
        Assert.That(e.Message, Does.Contain(path).And.Contain(map).And.Contain("unk_token").And.Contain("<unk>"));
        Assert.That((e.File, e.Field), Is.EqualTo((map, "unk_token")), "the file that named the token is the one at fault");
    }

    [Test]
    public void Config_without_bos_or_extras_adds_neither_dec_nor_enc()
    {
        // transformers 5 starts from BertTokenizer's defaults once a config file exists: bos_token None, no extras, so a
        // BERT vocabulary gets no [DEC]/[ENC]. Loading used to add both (BLIP's defaults), or refuse a folder without [ENC].
        string vocab = WriteFile("vocab.txt", TinyVocab);
        string config = WriteFile("tokenizer_config.json", """{"model_max_length": 512}""");
        using var tokenizer = BlipTokenizer.FromVocabulary(vocab, config);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.VocabularySize, Is.EqualTo(8));
            Assert.That((tokenizer.BosTokenId, tokenizer.EncTokenId), Is.EqualTo(((int?)null, (int?)null)));
            Assert.That(tokenizer.Encode("hello [DEC]"), Is.EqualTo(new long[] { 2, 5, 1, 1, 1, 3 }));
        });
    }

    [Test]
    public void Split_special_tokens_true_is_refused_not_ignored()
    {
        // transformers then WordPieces "[SEP]" in a text ([UNK] [UNK] [UNK]); the native library cannot be told to.
        string path = WriteTokenizerJson(_ => { });
        string config = WriteFile("tokenizer_config.json", """{"split_special_tokens": true}""");
        var e = Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(path, config).Dispose())!;
        Assert.That((e.File, e.Field), Is.EqualTo((config, "split_special_tokens")), e.Message);
        config = WriteFile("tokenizer_config.json", """{"split_special_tokens": false}""");
        using var tokenizer = BlipTokenizer.FromTokenizerJson(path, config);
        Assert.That(tokenizer.Encode("[SEP]", addSpecialTokens: false), Is.EqualTo(new long[] { 3 }));
    }

    [Test]
    public void Extra_special_token_that_is_not_text_is_named_by_its_place_in_the_list()
    {
        // The list's items were read through a one-key wrapper, and the error named that key ('t'), not the item.
        string path = WriteTokenizerJson(_ => { });
        string config = WriteFile("tokenizer_config.json", """{"extra_special_tokens": ["[ENC]", 7]}""");
        var e = Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(path, config).Dispose())!;
        Assert.That((e.File, e.Field), Is.EqualTo((config, "extra_special_tokens[1]")), e.Message);
        config = WriteFile("tokenizer_config.json", """{"additional_special_tokens": "[ENC]"}""");
        e = Assert.Throws<ConfigException>(() => BlipTokenizer.FromTokenizerJson(path, config).Dispose())!;
        Assert.That((e.File, e.Field), Is.EqualTo((config, "additional_special_tokens")), e.Message);
        Assert.That(e.Message, Does.Contain("list"));
    }

    [Test]
    public void Padding_or_truncation_side_that_is_neither_right_nor_left_is_named()
    {
        string path = WriteTokenizerJson(_ => { });
        using (var tokenizer = BlipTokenizer.FromTokenizerJson(path))
            Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.PaddingSide = (TextSide)7);
        string config = WriteFile("tokenizer_config.json", """{"padding_side": "middle"}""");
        Assert.That(() => BlipTokenizer.FromTokenizerJson(path, config), Throws.TypeOf<ConfigException>()
            .With.Message.Contains(config).And.Message.Contains("padding_side").And.Message.Contains("middle"));
        AssertRefused(WriteTokenizerJson(r => r["truncation"] = new JsonObject { ["direction"] = "Up" }), "truncation.direction", "Up");
    }
}
