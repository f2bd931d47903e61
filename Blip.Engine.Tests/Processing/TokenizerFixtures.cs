// Where the tokenizer tests find their inputs: the committed fixtures written by
// tools/reference/make_tokenizer_corpus.py, and the shared BERT vocabulary beside the checkout.
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

/// <summary>One line of corpus.jsonl (transformers' outputs for one string).</summary>
internal sealed record CorpusCase(int Line, string Text, long[] Ids, long[] IdsNoSpecial, long[] IdsTrunc16,
    long[] IdsTrunc512, string[] Tokens, string Decoded, string DecodedWithSpecial);

internal static class TokenizerFixtures
{
    public static string FixtureDir => Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", "tokenizer");

    /// <summary>../shared/data/bert-base-uncased-vocab.txt beside the repository root; fails the test when absent.</summary>
    public static string VocabPath
    {
        get
        {
            string root = RepoRoot();
            string path = Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "bert-base-uncased-vocab.txt"));
            if (!File.Exists(path))
                Assert.Fail($"The BERT vocabulary was not found at {path} (../shared/data/ relative to the repository root {root}); " +
                    "the tokenizer tests need it and do not skip.");
            return path;
        }
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Blip.Engine.sln")))
                return dir.FullName;
        }
        Assert.Fail($"No folder above {TestContext.CurrentContext.TestDirectory} holds Blip.Engine.sln.");
        return "";
    }

    /// <summary>
    /// A model folder as transformers' save_pretrained writes it: tokenizer_config.json and
    /// tokenizer.json (the committed skeleton with its vocab filled from the shared vocabulary).
    /// </summary>
    public static void WriteSavedFolder(string dir)
    {
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(FixtureDir, "saved", "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        var skeleton = JsonNode.Parse(File.ReadAllText(Path.Combine(FixtureDir, "saved", "tokenizer.skeleton.json")))!.AsObject();
        var vocab = new JsonObject();
        var lines = File.ReadAllText(VocabPath).Split('\n');
        for (int i = 0; i < lines.Length - 1; i++)
            vocab[lines[i]] = i;
        skeleton["model"]!["vocab"] = vocab;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), skeleton.ToJsonString());
    }

    /// <summary>A model folder as the Hub has it without tokenizer.json: vocab.txt and the two config files.</summary>
    public static void WriteHubVocabFolder(string dir)
    {
        Directory.CreateDirectory(dir);
        File.Copy(VocabPath, Path.Combine(dir, "vocab.txt"));
        foreach (var name in new[] { "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(FixtureDir, "hub", name), Path.Combine(dir, name));
    }

    public static IReadOnlyList<CorpusCase> Corpus() => ReadLines("corpus.jsonl").Select((e, i) => new CorpusCase(i + 1,
        e.GetProperty("text").GetString()!, Longs(e, "ids"), Longs(e, "ids_no_special"), Longs(e, "ids_trunc16"),
        Longs(e, "ids_trunc512"), e.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()!).ToArray(),
        e.GetProperty("decoded").GetString()!, e.GetProperty("decoded_with_special").GetString()!)).ToList();

    public static IEnumerable<JsonElement> ReadLines(string name) =>
        File.ReadAllLines(Path.Combine(FixtureDir, name)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement);

    public static long[] Longs(JsonElement e, string key) => e.GetProperty(key).EnumerateArray().Select(x => x.GetInt64()).ToArray();

    public static string Show(string text) => JsonSerializer.Serialize(text);

    public static string Show(IEnumerable<long> ids) => "[" + string.Join(", ", ids) + "]";

    /// <summary>The three ways the tests build the BLIP tokenizer.</summary>
    public static BlipTokenizer Create(string how, string tempDir) => how switch
    {
        "tokenizer.json" => LoadFolder(Path.Combine(tempDir, "saved"), WriteSavedFolder),
        "vocab.txt+configs" => LoadFolder(Path.Combine(tempDir, "hub"), WriteHubVocabFolder),
        "vocab.txt" => BlipTokenizer.FromVocabulary(VocabPath),
        _ => throw new ArgumentOutOfRangeException(nameof(how), how, "unknown loading path"),
    };

    private static BlipTokenizer LoadFolder(string dir, Action<string> write)
    {
        if (!Directory.Exists(dir))
            write(dir);
        return BlipTokenizer.Load(dir);
    }
}
