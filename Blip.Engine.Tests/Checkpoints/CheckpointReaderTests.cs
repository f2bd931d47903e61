// CheckpointReader: single-file and sharded folders, and the folders it must refuse with a clear reason.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class CheckpointReaderTests : CheckpointTestBase
{
    private void SaveShard(string file, params string[] names)
    {
        var tensors = names.Select((n, i) => new KeyValuePair<string, Tensor>(n, torch.full(2, i + 1.0f))).ToList();
        SafeTensorsWriter.Save(Path.Combine(Dir, file), tensors);
        tensors.ForEach(t => t.Value.Dispose());
    }

    private void WriteIndex(string weightMap) =>
        File.WriteAllText(Path.Combine(Dir, CheckpointReader.IndexFileName),
            "{\"metadata\":{\"total_size\":32},\"weight_map\":{" + weightMap + "}}");

    [Test]
    public void Single_file_folder_opens()
    {
        SaveShard("model.safetensors", "a", "b");
        using var reader = CheckpointReader.OpenFolder(Dir);
        Assert.That(reader.Names, Is.EquivalentTo(new[] { "a", "b" }));
        using var b = reader.Load("b");
        Assert.That(b.data<float>().ToArray(), Is.EqualTo(new[] { 2f, 2f }));
    }

    [Test]
    public void Sharded_folder_loads_from_every_shard()
    {
        SaveShard("model-00001-of-00002.safetensors", "enc.a", "enc.b");
        SaveShard("model-00002-of-00002.safetensors", "dec.c");
        WriteIndex("\"enc.a\":\"model-00001-of-00002.safetensors\",\"enc.b\":\"model-00001-of-00002.safetensors\"," +
                   "\"dec.c\":\"model-00002-of-00002.safetensors\"");
        using var reader = CheckpointReader.OpenFolder(Dir);
        Assert.That(reader.Names, Is.EqualTo(new[] { "enc.a", "enc.b", "dec.c" }));
        Assert.That(reader.Files, Has.Count.EqualTo(2));
        using var c = reader.Load("dec.c", ScalarType.Float64);
        Assert.That(c.data<double>().ToArray(), Is.EqualTo(new[] { 1.0, 1.0 }));
        using var dst = torch.zeros(2);
        reader.CopyInto("enc.b", dst);
        Assert.That(dst.data<float>().ToArray(), Is.EqualTo(new[] { 2f, 2f }));
    }

    [Test]
    public void Shards_in_subfolders_of_the_index_folder_load_as_transformers_joins_them()
    {
        Directory.CreateDirectory(Path.Combine(Dir, "weights", "part"));
        SaveShard(Path.Combine("weights", "part", "s1.safetensors"), "a");
        SaveShard("s2.safetensors", "b");
        WriteIndex("\"a\":\"weights/part/s1.safetensors\",\"b\":\"s2.safetensors\"");
        using var reader = CheckpointReader.OpenFolder(Dir);
        using var a = reader.Load("a");
        Assert.That(a.data<float>().ToArray(), Is.EqualTo(new[] { 1f, 1f }));
        Assert.That(reader.Files, Has.Count.EqualTo(2));
    }

    [TestCase("../s1.safetensors")]
    [TestCase("/tmp/s1.safetensors")]
    [TestCase("weights//s1.safetensors")]
    [TestCase("./s1.safetensors")]
    [TestCase("weights\\\\s1.safetensors")]
    [TestCase("")]
    public void Index_naming_a_shard_outside_its_folder_is_refused(string shard)
    {
        SaveShard("s1.safetensors", "a");
        WriteIndex("\"a\":\"" + shard + "\"");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain(CheckpointReader.IndexFileName).And.Contain("'a'").And.Contain("below the index's folder"));
    }

    [Test]
    public void Index_naming_a_missing_shard()
    {
        SaveShard("model-00001-of-00002.safetensors", "a");
        WriteIndex("\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain(CheckpointReader.IndexFileName).And.Contain("'b'").And.Contain("model-00002-of-00002.safetensors"));
    }

    [Test]
    public void Index_mapping_a_key_its_shard_lacks()
    {
        SaveShard("s1.safetensors", "a");
        WriteIndex("\"a\":\"s1.safetensors\",\"ghost\":\"s1.safetensors\"");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain("'ghost'").And.Contain("s1.safetensors").And.Contain("does not hold it"));
    }

    [Test]
    public void Shard_key_missing_from_the_index()
    {
        SaveShard("s1.safetensors", "a", "stray");
        WriteIndex("\"a\":\"s1.safetensors\"");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain("'stray'").And.Contain("weight_map does not map it"));
    }

    [Test]
    public void Index_key_that_is_not_text()
    {
        SaveShard("s1.safetensors", "a");
        WriteIndex("\"a\\ud800\":\"s1.safetensors\"");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain(CheckpointReader.IndexFileName).And.Contain("not text"));
    }

    [Test]
    public void Index_with_a_duplicate_key()
    {
        SaveShard("s1.safetensors", "a");
        WriteIndex("\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"");
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain("'a'").And.Contain("appears twice"));
    }

    [Test]
    public void Pytorch_bin_only_folder_says_to_convert()
    {
        File.WriteAllBytes(Path.Combine(Dir, "pytorch_model.bin"), [0x80, 2]);
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain(Dir).And.Contain("only pytorch_model.bin").And.Contain("never unpickles")
            .And.Contain("safe_serialization=True"));
    }

    [Test]
    public void Empty_folder_says_what_was_looked_for()
    {
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.OpenFolder(Dir).Dispose())!;
        Assert.That(e.Message, Does.Contain(Dir).And.Contain("looked for model.safetensors and model.safetensors.index.json"));
    }

    [Test]
    public void Missing_folder_is_named() =>
        Assert.That(Assert.Throws<DirectoryNotFoundException>(() => CheckpointReader.OpenFolder(Path.Combine(Dir, "nope")))!.Message,
            Does.Contain("nope"));

    [Test]
    public void Unknown_name_names_key_and_file()
    {
        SaveShard("model.safetensors", "a");
        using var reader = CheckpointReader.OpenFolder(Dir);
        var e = Assert.Throws<CheckpointFormatException>(() => reader.Info("zzz"))!;
        Assert.That(e.Message, Does.Contain("model.safetensors").And.Contain("'zzz'"));
    }

    [Test]
    public void OpenFile_reads_any_file_name()
    {
        SaveShard("weights.safetensors", "w");
        using var reader = CheckpointReader.OpenFile(Path.Combine(Dir, "weights.safetensors"));
        Assert.That(reader.Info("w").Shape, Is.EqualTo(new long[] { 2 }));
    }
}
