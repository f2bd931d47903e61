// A real model through the Hub path: the tiny captioning model served by FakeHub, downloaded into the cache layout
// huggingface_hub writes (snapshot files are symbolic links to blobs), loaded from there and run.
using Blip.Engine.Checkpoints;
using Blip.Engine.Pipelines;
using Blip.Engine.Tests.Generation;
using Blip.Engine.Tests.Pipelines;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Hub;

public sealed class HubModelTests : HubTestBase
{
    private static string Image(string name) => TestPaths.Fixture("tiny", "images", name);

    // The tiny captioning folder as a repo: model.safetensors as LFS, or (sharded) its tensors in two shards, the first
    // in a subfolder, with an index as transformers' save_pretrained writes one.
    internal static FakeRepo TinyCaptioningRepo(string id, bool sharded, string tempDir)
    {
        var repo = new FakeRepo(id, new string('c', 40));
        foreach (var file in Directory.GetFiles(TinyFixtures.ModelFolder("captioning")))
        {
            string name = Path.GetFileName(file);
            if (name == "model.safetensors") continue;
            repo.Files[name] = File.ReadAllBytes(file);
        }
        string weights = Path.Combine(TinyFixtures.ModelFolder("captioning"), "model.safetensors");
        if (!sharded)
        {
            repo.AddLfs("model.safetensors", File.ReadAllBytes(weights));
            return repo;
        }
        using var file0 = SafeTensorsFile.Open(weights);
        var names = file0.Tensors.Keys.ToList();
        var shards = new[] { ("weights/model-00001-of-00002.safetensors", names[..(names.Count / 2)]), ("model-00002-of-00002.safetensors", names[(names.Count / 2)..]) };
        var map = new System.Text.Json.Nodes.JsonObject();
        foreach (var (shard, keys) in shards)
        {
            string local = Path.Combine(tempDir, "shard.safetensors");
            var tensors = keys.Select(k => new KeyValuePair<string, Tensor>(k, file0.Load(k))).ToList();
            SafeTensorsWriter.Save(local, tensors);
            tensors.ForEach(t => t.Value.Dispose());
            repo.AddLfs(shard, File.ReadAllBytes(local));
            foreach (var k in keys) map[k] = shard;
        }
        repo.AddText("model.safetensors.index.json", new System.Text.Json.Nodes.JsonObject { ["metadata"] = new System.Text.Json.Nodes.JsonObject(), ["weight_map"] = map }.ToJsonString());
        return repo;
    }

    [TestCase(false)]
    [TestCase(true)]
    [CancelAfter(120_000)]
    public async Task A_model_from_the_Hub_captions_as_transformers_does(bool sharded, CancellationToken ct)
    {
        using var hub = new FakeHub();
        var repo = TinyCaptioningRepo("Org/tiny-captioning", sharded, TempDir);
        hub.AddRepo(repo);
        using var fixtures = new TinyFixtures();

        using var captioner = await BlipCaptioner.OpenAsync(repo.Id, new BlipLoadOptions { Hub = Options(hub) }, ct);

        string weights = Path.Combine(RepoFolder(repo.Id), "snapshots", repo.Commit, sharded ? "model-00002-of-00002.safetensors" : "model.safetensors");
        Assert.That(new FileInfo(weights).LinkTarget, Is.Not.Null, "the snapshot file is a link to its blob, as huggingface_hub makes it");
        // the fixture's kwargs (max_length 20), not the default of 20 new tokens
        var options = GenerationCase.Tiny().Single(c => c.Name == "captioning.generate.greedy").Options;
        var results = captioner.Caption([Image("rgb.png"), Image("gray.jpg")], options: options);
        var expected = fixtures.Get("captioning.generate.greedy");
        Assert.That(results[0].TokenIds, Is.EqualTo(PipelineTests.Row(expected, 0, 0)), "greedy ids of rgb.png");
        Assert.That(results[1].TokenIds, Is.EqualTo(PipelineTests.Row(expected, 1, 0)), "greedy ids of gray.jpg");
    }
}
