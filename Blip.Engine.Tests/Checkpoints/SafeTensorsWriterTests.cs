// SafeTensorsWriter: exact round trips of every dtype, and files interchangeable with python's safetensors.
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class SafeTensorsWriterTests : CheckpointTestBase
{
    private static readonly ScalarType[] AllTypes =
    [
        ScalarType.Float64, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64,
        ScalarType.Int32, ScalarType.Int16, ScalarType.Int8, ScalarType.Byte, ScalarType.Bool,
    ];

    private static Tensor Sample(ScalarType type, long[] shape, torch.Generator g) => type switch
    {
        ScalarType.Bool => torch.rand(shape, generator: g).gt(0.5),
        ScalarType.Byte or ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 =>
            torch.randint(-100, 100, shape, generator: g).to(type),
        _ => torch.randn(shape, dtype: ScalarType.Float64, generator: g).mul(1000).to(type),
    };

    [Test]
    public void Round_trip_of_every_dtype_is_exact([ValueSource(nameof(AllTypes))] ScalarType type)
    {
        var g = new torch.Generator(42);
        var tensors = new Dictionary<string, Tensor>
        {
            ["matrix"] = Sample(type, [3, 5], g),
            ["scalar"] = Sample(type, [], g),
            ["empty"] = Sample(type, [0, 2], g),
            ["cube"] = Sample(type, [2, 2, 2], g),
        };
        string path = Path.Combine(Dir, "all.safetensors");
        SafeTensorsWriter.Save(path, tensors);
        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Tensors.Keys, Is.EquivalentTo(tensors.Keys));
        foreach (var (name, t) in tensors)
        {
            using var loaded = file.Load(name);
            ExactTensor.AreEqual(t, loaded, name);
            t.Dispose();
        }
    }

    [Test]
    public void Non_contiguous_tensors_are_written_in_logical_order()
    {
        using var t = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        using var transposed = t.t();
        string path = Path.Combine(Dir, "t.safetensors");
        SafeTensorsWriter.Save(path, [new("t", transposed)]);
        using var file = SafeTensorsFile.Open(path);
        using var loaded = file.Load("t");
        ExactTensor.AreEqual(transposed, loaded, "t");
    }

    [Test]
    public void Reads_python_written_file_as_python_lists_it()
    {
        using var listing = JsonDocument.Parse(File.ReadAllText(FixturePath("python_written.json")));
        using var file = SafeTensorsFile.Open(FixturePath("python_written.safetensors"));
        Assert.That(file.Metadata["format"], Is.EqualTo("pt"));
        var expected = listing.RootElement.GetProperty("tensors");
        Assert.That(file.Tensors.Keys, Is.EquivalentTo(expected.EnumerateObject().Select(p => p.Name)));
        foreach (var entry in expected.EnumerateObject())
        {
            using var t = file.Load(entry.Name);
            Assert.That(file.Tensors[entry.Name].DType.ToString(), Is.EqualTo(entry.Value.GetProperty("dtype").GetString() switch
            {
                "F64" => "Float64", "F32" => "Float32", "F16" => "Float16", "BF16" => "BFloat16", "I64" => "Int64",
                "I32" => "Int32", "I16" => "Int16", "I8" => "Int8", "U8" => "Byte", _ => "Bool",
            }), entry.Name);
            Assert.That(t.shape, Is.EqualTo(entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())), entry.Name);
            AssertValues(t, entry.Value.GetProperty("values"), entry.Name);
        }
    }

    /// <summary>Compares with the fixture's values: floats as exact doubles, integers as text, booleans.</summary>
    private static void AssertValues(Tensor t, JsonElement values, string name)
    {
        using var flat = t.flatten();
        var json = values.EnumerateArray().ToList();
        if (t.dtype == ScalarType.Bool)
        {
            Assert.That(flat.data<bool>().ToArray(), Is.EqualTo(json.Select(v => v.GetBoolean())), name);
            return;
        }
        if (t.is_floating_point())
        {
            using var wide = flat.to(ScalarType.Float64);
            Assert.That(wide.data<double>().ToArray(), Is.EqualTo(json.Select(v => v.GetDouble())), name);
            return;
        }
        using var longs = flat.to(ScalarType.Int64);
        Assert.That(longs.data<long>().ToArray(),
            Is.EqualTo(json.Select(v => long.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture))), name);
    }

    [Test]
    public void Writes_python_written_file_byte_for_byte()
    {
        string pythonFile = FixturePath("python_written.safetensors");
        string ours = Path.Combine(Dir, "ours.safetensors");
        using (var file = SafeTensorsFile.Open(pythonFile))
        {
            var tensors = file.Tensors.Keys.Reverse().Select(k => new KeyValuePair<string, Tensor>(k, file.Load(k))).ToList();
            SafeTensorsWriter.Save(ours, tensors);
            tensors.ForEach(t => t.Value.Dispose());
        }
        Assert.That(File.ReadAllBytes(ours), Is.EqualTo(File.ReadAllBytes(pythonFile)));
    }

    [Test]
    public void Header_is_padded_to_8_and_carries_the_default_metadata()
    {
        string path = Path.Combine(Dir, "p.safetensors");
        using var t = torch.ones(1, dtype: ScalarType.Int8);
        SafeTensorsWriter.Save(path, [new("x", t)]);
        byte[] bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero);
        Assert.That(Encoding.UTF8.GetString(bytes, 8, n).TrimEnd(' '),
            Is.EqualTo("{\"__metadata__\":{\"format\":\"pt\"},\"x\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}"));
    }

    [Test]
    public void Save_replaces_the_target_and_leaves_no_temporary_file()
    {
        string path = Path.Combine(Dir, "m.safetensors");
        File.WriteAllText(path, "old");
        using var t = torch.ones(2);
        SafeTensorsWriter.Save(path, [new("x", t)], new Dictionary<string, string> { ["note"] = "a\"b\n" });
        Assert.That(Directory.GetFiles(Dir), Is.EqualTo(new[] { path }));
        using var file = SafeTensorsFile.Open(path);
        Assert.That(file.Metadata, Is.EqualTo(new Dictionary<string, string> { ["note"] = "a\"b\n" }));
    }

    [Test]
    public void Duplicate_names_are_rejected()
    {
        using var t = torch.ones(1);
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Save(Path.Combine(Dir, "d.safetensors"), [new("x", t), new("x", t)]))!;
        Assert.That(e.Message, Does.Contain("'x'").And.Contain("given twice"));
        Assert.That(Directory.GetFiles(Dir), Is.Empty);
    }

    [Test]
    public void Unsupported_dtype_is_rejected()
    {
        using var t = torch.ones(1, dtype: ScalarType.ComplexFloat32);
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Save(Path.Combine(Dir, "c.safetensors"), [new("z", t)]))!;
        Assert.That(e.Message, Does.Contain("'z'").And.Contain("ComplexFloat32"));
    }

    [Test]
    public void Reserved_metadata_name_is_rejected()
    {
        using var t = torch.ones(1);
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Save(Path.Combine(Dir, "r.safetensors"), [new("__metadata__", t)]));
    }

    [Test]
    public void Name_that_is_not_valid_unicode_is_named_with_the_file()
    {
        using var t = torch.ones(1);
        string path = Path.Combine(Dir, "u.safetensors");
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Save(path, [new("ok", t), new("bad\ud800", t)]))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("tensors[1]"));
        Assert.That(Directory.GetFiles(Dir), Is.Empty);
    }

    [Test]
    public void Metadata_that_cannot_be_written_is_named()
    {
        using var t = torch.ones(1);
        string path = Path.Combine(Dir, "md.safetensors");
        var nullValue = Assert.Throws<ArgumentException>(() =>
            SafeTensorsWriter.Save(path, [new("x", t)], new Dictionary<string, string> { ["note"] = null! }))!;
        Assert.That(nullValue.Message, Does.Contain(path).And.Contain("'note'"));
        var badText = Assert.Throws<ArgumentException>(() =>
            SafeTensorsWriter.Save(path, [new("x", t)], new Dictionary<string, string> { ["note"] = "\udc00" }))!;
        Assert.That(badText.Message, Does.Contain(path).And.Contain("'note'"));
        Assert.That(Directory.GetFiles(Dir), Is.Empty);
    }

    [Test]
    public void Meta_tensor_is_refused_by_name_before_anything_is_written()
    {
        using var t = torch.empty(2, 3, device: torch.META);
        string path = Path.Combine(Dir, "meta.safetensors");
        var e = Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Save(path, [new("w", t)]))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("'w'").And.Contain("meta"));
        Assert.That(Directory.GetFiles(Dir), Is.Empty);
    }

    [Test]
    public void Missing_folder_is_named()
    {
        using var t = torch.ones(1);
        string path = Path.Combine(Dir, "no-such-folder", "m.safetensors");
        var e = Assert.Throws<DirectoryNotFoundException>(() => SafeTensorsWriter.Save(path, [new("x", t)]))!;
        Assert.That(e.Message, Does.Contain(path));
    }

    [Test]
    public void No_tensors_and_an_empty_name_round_trip()
    {
        string empty = Path.Combine(Dir, "none.safetensors");
        SafeTensorsWriter.Save(empty, []);
        using (var file = SafeTensorsFile.Open(empty))
            Assert.That(file.Tensors, Is.Empty);
        using var t = torch.arange(3, dtype: ScalarType.Int32);
        string unnamed = Path.Combine(Dir, "unnamed.safetensors");
        SafeTensorsWriter.Save(unnamed, [new("", t), new("é/ü", t)]);
        using var back = SafeTensorsFile.Open(unnamed);
        using var loaded = back.Load("");
        ExactTensor.AreEqual(t, loaded, "''");
        Assert.That(back.Tensors.Keys, Is.EquivalentTo(new[] { "", "é/ü" }));
    }

    [Test]
    public void Saving_over_a_file_that_is_open_and_mapped_leaves_its_loaded_tensors_intact()
    {
        string path = Path.Combine(Dir, "live.safetensors");
        using var before = torch.arange(1000, dtype: ScalarType.Float32);
        SafeTensorsWriter.Save(path, [new("w", before)]);
        using var file = SafeTensorsFile.Open(path);
        using var loaded = file.Load("w");
        using var after = torch.zeros(1000, dtype: ScalarType.Float32);
        SafeTensorsWriter.Save(path, [new("w", after)]);
        using var again = file.Load("w");
        ExactTensor.AreEqual(before, again, "the old mapping after the save");
        using var reopened = SafeTensorsFile.Open(path);
        using var fresh = reopened.Load("w");
        ExactTensor.AreEqual(after, fresh, "the new file");
    }
}
