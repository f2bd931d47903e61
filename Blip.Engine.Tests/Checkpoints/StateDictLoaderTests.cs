// StateDictLoader: every bad key in one error, in-place copies, tied weights loaded once.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class StateDictLoaderTests : CheckpointTestBase
{
    private static readonly string[] AllKeys = ["fc.weight", "fc.bias", "norm.weight", "norm.bias", "emb.weight", "head.weight", "scale"];

    private CheckpointReader SaveFrom(Dictionary<string, Tensor> tensors)
    {
        string path = Path.Combine(Dir, "model.safetensors");
        SafeTensorsWriter.Save(path, tensors);
        foreach (var t in tensors.Values)
            t.Dispose();
        return CheckpointReader.OpenFolder(Dir);
    }

    /// <summary>A file with every key of a fresh TinyNet (random values), minus <paramref name="without"/>.</summary>
    private static Dictionary<string, Tensor> FileOf(TinyNet source, params string[] without) =>
        source.state_dict().Where(kv => !without.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    [Test]
    public void State_dict_lists_tied_keys_and_buffers() =>
        Assert.That(new TinyNet().state_dict().Keys, Is.EquivalentTo(AllKeys));

    [Test]
    public void Loads_every_tensor_in_place()
    {
        using var source = new TinyNet();
        using var reader = SaveFrom(FileOf(source, "head.weight"));
        using var target = new TinyNet();
        var before = target.state_dict();
        var report = StateDictLoader.Load(target, reader);
        var after = target.state_dict();
        foreach (string key in AllKeys)
        {
            Assert.That(after[key], Is.SameAs(before[key]), key);
            ExactTensor.AreEqual(source.state_dict()[key], after[key], key);
        }
        Assert.That(report.IsClean && report.Missing.Count == 0, Is.True);
        Assert.That(TensorMemory.DataAddress(target.HeadWeight), Is.EqualTo(TensorMemory.DataAddress(target.EmbWeight)), "still tied");
        Assert.That(after["fc.weight"].requires_grad, Is.True);
    }

    [Test]
    public void Tied_keys_both_in_file_load_once()
    {
        using var source = new TinyNet();
        using var reader = SaveFrom(FileOf(source));
        using var target = new TinyNet();
        var report = StateDictLoader.Load(target, reader);
        Assert.That(report.Loaded, Does.Contain("emb.weight").And.Not.Contain("head.weight"));
        Assert.That(report.Skipped, Is.EqualTo(new[] { "head.weight" }));
    }

    [Test]
    public void Missing_unexpected_and_mis_shaped_keys_all_in_one_error()
    {
        using var source = new TinyNet();
        var file = FileOf(source, "fc.bias", "emb.weight", "head.weight");
        file["norm.weight"].Dispose();
        file["norm.weight"] = torch.ones(4);
        file["extra.position_ids"] = torch.arange(3);
        file["stray"] = torch.zeros(1);
        using var reader = SaveFrom(file);
        using var target = new TinyNet();
        using var fcBefore = target.state_dict()["fc.weight"].clone();
        var e = Assert.Throws<StateDictMismatchException>(() => StateDictLoader.Load(target, reader))!;
        Assert.That(e.Message, Does.Contain(Path.Combine(Dir, "model.safetensors"))
            .And.Contain("missing from the file (3)").And.Contain("fc.bias").And.Contain("emb.weight").And.Contain("head.weight")
            .And.Contain("unexpected in the file (2)").And.Contain("extra.position_ids").And.Contain("stray")
            .And.Contain("norm.weight: file shape [4], module shape [3]"));
        Assert.That(e.Report.Mismatched.Single().FileShape, Is.EqualTo(new long[] { 4 }));
        ExactTensor.AreEqual(fcBefore, target.state_dict()["fc.weight"], "nothing is loaded when strict fails");
        // On one line (a command line's error): the same groups, at most two keys each here.
        Assert.That(e.Summary(2), Is.EqualTo($"{Path.Combine(Dir, "model.safetensors")}: the checkpoint does not fit the module (nothing was loaded): " +
            $"missing from the file (3): {e.Report.Missing[0]}, {e.Report.Missing[1]}, ... and 1 more; " +
            "unexpected in the file (2): extra.position_ids, stray; not matching the module (1): norm.weight: file shape [4], module shape [3]"));
    }

    [Test]
    public void Tolerated_absent_and_extra_keys()
    {
        using var source = new TinyNet();
        var file = FileOf(source, "scale");
        file["text.position_ids"] = torch.arange(3);
        using var reader = SaveFrom(file);
        using var target = new TinyNet();
        var report = StateDictLoader.Load(target, reader, new StateDictLoadOptions
        {
            MayBeAbsentFromFile = k => k == "scale",
            MayBeExtraInFile = k => k.EndsWith(".position_ids", StringComparison.Ordinal),
        });
        Assert.That(report.IsClean, Is.True);
        Assert.That(report.Skipped, Does.Contain("text.position_ids"));
    }

    [Test]
    public void Non_strict_loads_what_fits_and_reports_the_rest()
    {
        using var source = new TinyNet();
        var file = FileOf(source, "fc.bias");
        file["fc.weight"].Dispose();
        file["fc.weight"] = torch.ones(3, 5);
        file["stray"] = torch.zeros(1);
        using var reader = SaveFrom(file);
        using var target = new TinyNet();
        var report = StateDictLoader.Load(target, reader, new StateDictLoadOptions { Strict = false });
        Assert.That(report.Missing, Is.EqualTo(new[] { "fc.bias" }));
        Assert.That(report.Unexpected, Is.EqualTo(new[] { "stray" }));
        Assert.That(report.Mismatched.Select(m => m.Key), Is.EqualTo(new[] { "fc.weight" }));
        ExactTensor.AreEqual(source.state_dict()["norm.weight"], target.state_dict()["norm.weight"], "norm.weight");
    }

    [Test]
    public void DType_option_reports_tensors_of_another_dtype()
    {
        using var source = new TinyNet();
        using var reader = SaveFrom(FileOf(source));
        using var target = new TinyNet();
        var e = Assert.Throws<StateDictMismatchException>(() =>
            StateDictLoader.Load(target, reader, new StateDictLoadOptions { DType = ScalarType.BFloat16 }))!;
        Assert.That(e.Message, Does.Contain("fc.weight: module tensor is Float32, DType asks BFloat16"));
    }

    [Test]
    public void Converts_F32_file_into_BF16_module()
    {
        using var source = new TinyNet();
        using var reader = SaveFrom(FileOf(source));
        using var target = new TinyNet();
        target.to(ScalarType.BFloat16);
        StateDictLoader.Load(target, reader, new StateDictLoadOptions { DType = ScalarType.BFloat16 });
        using var expected = source.state_dict()["fc.weight"].to(ScalarType.BFloat16);
        ExactTensor.AreEqual(expected, target.state_dict()["fc.weight"], "fc.weight");
    }
}
