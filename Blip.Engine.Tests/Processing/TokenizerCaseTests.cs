// Tokenizer folders unlike BLIP's Hub files (Fixtures/tokenizer/cases, written by
// tools/reference/make_tokenizer_cases.py): each loads to what transformers' tokenizer makes of it.
using System.Text.Json.Nodes;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class TokenizerCaseTests
{
    private const int VocabLines = 1038; // the tiny vocab.txt without its [DEC] and [ENC]

    private static string CasesDir => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tokenizer", "cases");

    public static IEnumerable<string> Cases() =>
        Directory.Exists(CasesDir) ? Directory.GetDirectories(CasesDir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal) : ["(no cases)"];

    [TestCaseSource(nameof(Cases))]
    public void Tokenizer_folder_loads_as_transformers_loads_it(string name)
    {
        string source = Path.Combine(CasesDir, name);
        Assert.That(Directory.Exists(source), Is.True, $"no case folder {source}");
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "expected.json")))!.AsObject();
        string dir = Directory.CreateTempSubdirectory("blip-tokenizer-case-").FullName;
        try
        {
            WriteFolder(source, dir, expected);
            using var tokenizer = BlipTokenizer.Load(dir);
            tokenizer.Warning = _ => { };
            var differences = Compare(tokenizer, expected);
            Assert.That(differences, Is.Empty, $"{name}: {differences.Count} differences from transformers:\n" + string.Join("\n", differences.Take(12)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // The committed files, with the vocabulary (left out of the fixtures) put back.
    private static void WriteFolder(string source, string dir, JsonObject expected)
    {
        var lines = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny", "captioning", "vocab.txt")).Split('\n')[..VocabLines];
        foreach (var file in expected["files"]!.AsArray().Select(f => f!.GetValue<string>()))
        {
            string target = Path.Combine(dir, file);
            if (file == "vocab.txt")
                File.WriteAllText(target, string.Join("\n", lines) + "\n");
            else if (file == "tokenizer.json")
            {
                var doc = JsonNode.Parse(File.ReadAllText(Path.Combine(source, file)))!.AsObject();
                var vocab = new JsonObject();
                for (int i = 0; i < lines.Length; i++)
                    vocab[lines[i]] = i;
                doc["model"]!["vocab"] = vocab;
                File.WriteAllText(target, doc.ToJsonString());
            }
            else
                File.Copy(Path.Combine(source, file), target);
        }
    }

    private static List<string> Compare(BlipTokenizer tokenizer, JsonObject expected)
    {
        var differences = new List<string>();
        void Check(string what, JsonNode? want, JsonNode? got)
        {
            if (!JsonNode.DeepEquals(want, got))
                differences.Add($"{what}: transformers {want?.ToJsonString() ?? "null"}, ours {got?.ToJsonString() ?? "null"}");
        }
        var info = expected["info"]!.AsObject();
        Check("pad id", info["pad"], tokenizer.PadTokenId);
        Check("unk id", info["unk"], tokenizer.UnkTokenId);
        Check("cls id", info["cls"], tokenizer.ClsTokenId);
        Check("sep id", info["sep"], tokenizer.SepTokenId);
        Check("mask id", info["mask"], tokenizer.MaskTokenId);
        if (info["bos"] is not null) // where transformers has none, ours may still be [DEC] (BosTokenId falls back to it)
            Check("bos id", info["bos"], tokenizer.BosTokenId);
        Check("len", info["len"], tokenizer.VocabularySize);
        Check("model_max_length", info["model_max_length"], tokenizer.ModelMaxLength);
        foreach (var e in expected["encode"]!.AsArray().Select(n => n!.AsObject()))
        {
            string text = e["text"]!.GetValue<string>();
            bool special = e["add_special_tokens"]!.GetValue<bool>();
            int? max = e["max_length"]?.GetValue<int>();
            Check($"encode {JsonValue.Create(text).ToJsonString()} special={special} max_length={max}", e["ids"], Ids(tokenizer.Encode(text, special, max)));
        }
        foreach (var b in expected["batch"]!.AsArray().Select(n => n!.AsObject()))
        {
            var texts = b["texts"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
            var batch = tokenizer.EncodeBatch(texts);
            Check($"batch {b["texts"]!.ToJsonString()} input_ids", b["input_ids"], new JsonArray([.. batch.InputIds.Select(Ids)]));
            Check($"batch {b["texts"]!.ToJsonString()} attention_mask", b["attention_mask"], new JsonArray([.. batch.AttentionMask.Select(Ids)]));
        }
        foreach (var d in expected["decode"]!.AsArray().Select(n => n!.AsObject()))
        {
            var ids = d["ids"]!.AsArray().Select(i => i!.GetValue<long>()).ToArray();
            bool skip = d["skip_special_tokens"]!.GetValue<bool>();
            Check($"decode {d["ids"]!.ToJsonString()} skip_special_tokens={skip}", d["text"], tokenizer.Decode(ids, skip));
        }
        foreach (var t in expected["id_to_token"]!.AsArray().Select(n => n!.AsObject()))
            Check($"token of id {t["id"]}", t["token"], tokenizer.IdToToken(t["id"]!.GetValue<long>()));
        return differences;
    }

    private static JsonNode Ids(long[] ids) => new JsonArray([.. ids.Select(i => (JsonNode)i)]);
}
