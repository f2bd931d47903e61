// A model repository served by FakeHub: files at one commit, which of them are LFS, and branch/tag refs.
using System.Security.Cryptography;
using System.Text;

namespace Blip.Engine.Tests.Hub;

public sealed class FakeRepo
{
    public FakeRepo(string id, string commit)
    {
        Id = id;
        Commit = commit;
        Refs["main"] = commit;
    }

    public string Id { get; }

    public string Commit { get; }

    public Dictionary<string, byte[]> Files { get; } = [];

    public HashSet<string> Lfs { get; } = [];

    public Dictionary<string, string> Refs { get; } = [];

    /// <summary>A BLIP-like repo: small JSON/text files in git, random LFS weights; no processor/generation config.</summary>
    public static FakeRepo Blip(string id = "Salesforce/blip-test", int weightBytes = 300_000, int seed = 1)
    {
        var repo = new FakeRepo(id, RandomHex(40, seed));
        repo.AddText("config.json", """{"model_type": "blip", "text_config": {"num_attention_heads": 12}}""");
        repo.AddLfs("model.safetensors", RandomBytes(weightBytes, seed));
        repo.AddText("preprocessor_config.json", """{"image_size": 384}""");
        repo.AddText("tokenizer.json", """{"model": {"type": "WordPiece"}}""");
        repo.AddText("tokenizer_config.json", """{"do_lower_case": true}""");
        repo.AddText("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
        repo.AddText("special_tokens_map.json", """{"cls_token": "[CLS]"}""");
        return repo;
    }

    public void AddText(string name, string text) => Files[name] = Encoding.UTF8.GetBytes(text);

    public void AddLfs(string name, byte[] bytes)
    {
        Files[name] = bytes;
        Lfs.Add(name);
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>A 40-hex id standing in for the git blob sha1 the Hub sends as ETag of small files.</summary>
    public static string GitId(byte[] bytes) => Sha256(bytes)[..40];

    public static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string RandomHex(int length, int seed) => Convert.ToHexStringLower(RandomBytes(length / 2, seed + 1000));
}
