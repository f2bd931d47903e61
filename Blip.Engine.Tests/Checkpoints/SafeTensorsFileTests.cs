// Loading from a safetensors file: dtype casts, in-place copies that keep parameter identity.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class SafeTensorsFileTests : CheckpointTestBase
{
    private string SaveOne(string name, Tensor t) =>
        SaveMany([new(name, t)]);

    private string SaveMany(KeyValuePair<string, Tensor>[] tensors)
    {
        string path = Path.Combine(Dir, "t.safetensors");
        SafeTensorsWriter.Save(path, tensors);
        return path;
    }

    [Test]
    public void Info_describes_the_entry()
    {
        using var t = torch.arange(6, dtype: ScalarType.Int16).reshape(2, 3);
        using var file = SafeTensorsFile.Open(SaveOne("x", t));
        var info = file.Info("x");
        Assert.That((info.DType, info.Shape, info.ByteLength), Is.EqualTo((ScalarType.Int16, new long[] { 2, 3 }, 12L)));
        Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["format"] = "pt" }));
    }

    [Test]
    public void Load_with_cast_from_F32_to_BF16()
    {
        using var t = torch.randn(4, 5, generator: new torch.Generator(7));
        using var file = SafeTensorsFile.Open(SaveOne("w", t));
        using var loaded = file.Load("w", ScalarType.BFloat16);
        using var expected = t.to(ScalarType.BFloat16);
        ExactTensor.AreEqual(expected, loaded, "w");
        Assert.That(loaded.requires_grad, Is.False);
    }

    [Test]
    public void CopyInto_a_parameter_keeps_its_identity()
    {
        using var t = torch.randn(3, 2);
        using var file = SafeTensorsFile.Open(SaveOne("w", t));
        using var p = new TorchSharp.Modules.Parameter(torch.zeros(3, 2));
        nint address = TensorMemory.DataAddress(p);
        file.CopyInto("w", p);
        ExactTensor.AreEqual(t, p, "w");
        Assert.That(p.requires_grad, Is.True);
        Assert.That(TensorMemory.DataAddress(p), Is.EqualTo(address));
    }

    [Test]
    public void CopyInto_converts_dtype_and_fills_non_contiguous_destinations()
    {
        using var t = torch.randn(3, 2);
        using var file = SafeTensorsFile.Open(SaveOne("w", t));
        using var wide = torch.zeros(3, 2, dtype: ScalarType.Float64);
        file.CopyInto("w", wide);
        using var expectedWide = t.to(ScalarType.Float64);
        ExactTensor.AreEqual(expectedWide, wide, "f64 destination");
        using var storage = torch.zeros(2, 3);
        using var transposed = storage.t();
        file.CopyInto("w", transposed);
        ExactTensor.AreEqual(t, transposed, "transposed destination");
    }

    [Test]
    public void CopyInto_wrong_shape_names_both_shapes()
    {
        using var t = torch.zeros(3, 2);
        using var file = SafeTensorsFile.Open(SaveOne("enc.w", t));
        using var dst = torch.zeros(2, 3);
        var e = Assert.Throws<CheckpointFormatException>(() => file.CopyInto("enc.w", dst))!;
        Assert.That(e.Message, Does.Contain("t.safetensors").And.Contain("'enc.w'").And.Contain("[3, 2]").And.Contain("[2, 3]"));
    }

    [Test]
    public void Loaded_tensors_outlive_the_file()
    {
        using var t = torch.arange(10, dtype: ScalarType.Int64);
        var file = SafeTensorsFile.Open(SaveOne("i", t));
        using var loaded = file.Load("i");
        file.Dispose();
        ExactTensor.AreEqual(t, loaded, "i");
        Assert.Throws<ObjectDisposedException>(() => file.Load("i").Dispose());
    }
}
