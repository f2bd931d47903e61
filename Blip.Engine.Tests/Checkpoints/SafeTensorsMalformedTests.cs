// Every malformation of a safetensors file gives a CheckpointFormatException naming file, key and problem.
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class SafeTensorsMalformedTests : CheckpointTestBase
{
    private static CheckpointFormatException OpenFails(string path)
    {
        var e = Assert.Throws<CheckpointFormatException>(() => SafeTensorsFile.Open(path).Dispose())!;
        Assert.That(e.Message, Does.Contain(Path.GetFileName(path)));
        Assert.That(e.FilePath, Is.EqualTo(path));
        return e;
    }

    private static string Entry(string name, string dtype, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    [Test]
    public void Empty_file() =>
        Assert.That(OpenFails(WriteRaw("empty.safetensors", [])).Message, Does.Contain("empty"));

    [Test]
    public void File_shorter_than_header_length() =>
        Assert.That(OpenFails(WriteRaw("short.safetensors", [1, 2, 3])).Message, Does.Contain("shorter than the 8-byte header length"));

    [Test]
    public void Header_length_beyond_file()
    {
        var bytes = new byte[20];
        bytes[0] = 100;
        Assert.That(OpenFails(WriteRaw("beyond.safetensors", bytes)).Message, Does.Contain("header length 100 runs past the end"));
    }

    [Test]
    public void Header_length_over_cap()
    {
        var bytes = new byte[16];
        bytes[6] = 1; // 2^48
        Assert.That(OpenFails(WriteRaw("huge.safetensors", bytes)).Message, Does.Contain("exceeds"));
    }

    [Test]
    public void Bad_json() =>
        Assert.That(OpenFails(WriteSafeTensors("badjson.safetensors", "{\"w\": {")).Message, Does.Contain("not valid JSON"));

    [Test]
    public void Header_not_utf8()
    {
        byte[] bytes = [4, 0, 0, 0, 0, 0, 0, 0, (byte)'{', 0xFF, 0xFE, (byte)'}'];
        Assert.That(OpenFails(WriteRaw("latin.safetensors", bytes)).Message, Does.Contain("UTF-8"));
    }

    // An escaped lone surrogate is valid UTF-8 and valid JSON but not text: System.Text.Json's InvalidOperationException
    // named no file.
    [TestCase("{\"a\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [TestCase("{\"__metadata__\":{\"format\":\"pt\\udc00\"}}")]
    public void Header_string_that_is_not_text(string header) =>
        Assert.That(OpenFails(WriteSafeTensors("surrogate.safetensors", header)).Message, Does.Contain("not text"));

    [Test]
    public void Header_not_an_object() =>
        Assert.That(OpenFails(WriteSafeTensors("array.safetensors", "[1, 2]")).Message, Does.Contain("not a JSON object"));

    [Test]
    public void Content_after_the_object() =>
        Assert.That(OpenFails(WriteSafeTensors("trailing.safetensors", "{} {}")).Message, Does.Contain("not valid JSON"));

    [Test]
    public void Unknown_dtype()
    {
        var e = OpenFails(WriteSafeTensors("dtype.safetensors", "{" + Entry("enc.w", "F8_E4M3", "[4]", "[0,4]") + "}", 4));
        Assert.That(e.Key, Is.EqualTo("enc.w"));
        Assert.That(e.Message, Does.Contain("'enc.w'").And.Contain("unknown dtype 'F8_E4M3'"));
    }

    [Test]
    public void Negative_shape()
    {
        var e = OpenFails(WriteSafeTensors("neg.safetensors", "{" + Entry("w", "F32", "[-1,2]", "[0,8]") + "}", 8));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("negative dimension"));
    }

    // A zero dimension makes 0 elements (and 0 bytes, so data_offsets [0, 0] fit), but libtorch still computes the
    // strides from the other dimensions: 2^40 · 2^40 overflowed there ("Stride calculation overflowed", no file or key).
    [TestCase("[0,1099511627776,1099511627776]")]
    [TestCase("[1099511627776,1099511627776,0]")]
    [TestCase("[4611686018427387904,2]")]
    [TestCase("[3037000500,3037000500]")]
    public void Shape_whose_sizes_overflow_is_refused_naming_file_key_and_shape(string shape)
    {
        var e = OpenFails(WriteSafeTensors("strides.safetensors", "{" + Entry("enc.w", "F32", shape, "[0,0]") + "}"));
        Assert.That(e.Key, Is.EqualTo("enc.w"));
        Assert.That(e.Message, Does.Contain("'enc.w'").And.Contain(shape.Replace(",", ", ", StringComparison.Ordinal)).And.Contain("too large"));
    }

    [Test]
    public void Empty_tensors_with_ordinary_dimensions_are_allowed()
    {
        using var file = SafeTensorsFile.Open(WriteSafeTensors("empty.safetensors", "{" + Entry("w", "F32", "[0,768]", "[0,0]") + "}"));
        using var w = file.Load("w");
        Assert.That(w.shape, Is.EqualTo(new long[] { 0, 768 }));
    }

    [Test]
    public void Shape_not_integers()
    {
        var e = OpenFails(WriteSafeTensors("frac.safetensors", "{" + Entry("w", "F32", "[1.5]", "[0,4]") + "}", 4));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("'shape' must hold integers"));
    }

    [Test]
    public void Overlapping_offsets()
    {
        string header = "{" + Entry("a", "F32", "[2]", "[0,8]") + "," + Entry("b", "F32", "[2]", "[4,12]") + "}";
        var e = OpenFails(WriteSafeTensors("overlap.safetensors", header, 12));
        Assert.That(e.Message, Does.Contain("'b'").And.Contain("overlap those of 'a'"));
    }

    [Test]
    public void Offsets_past_the_end()
    {
        var e = OpenFails(WriteSafeTensors("past.safetensors", "{" + Entry("w", "F32", "[2]", "[0,8]") + "}", 4));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("run past the end of the data (4 bytes)"));
    }

    [Test]
    public void Begin_after_end()
    {
        var e = OpenFails(WriteSafeTensors("reversed.safetensors", "{" + Entry("w", "F32", "[1]", "[8,4]") + "}", 8));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("begin is after end"));
    }

    [Test]
    public void Wrong_byte_length()
    {
        var e = OpenFails(WriteSafeTensors("len.safetensors", "{" + Entry("w", "F32", "[3]", "[0,8]") + "}", 8));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("needs 12 bytes but data_offsets [0, 8] span 8"));
    }

    [Test]
    public void Duplicate_key()
    {
        string header = "{" + Entry("w", "F32", "[1]", "[0,4]") + "," + Entry("w", "F32", "[1]", "[4,8]") + "}";
        var e = OpenFails(WriteSafeTensors("dup.safetensors", header, 8));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("appears twice"));
    }

    [Test]
    public void Missing_field()
    {
        var e = OpenFails(WriteSafeTensors("nooffsets.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4));
        Assert.That(e.Message, Does.Contain("'w'").And.Contain("lacks 'data_offsets'"));
    }

    [Test]
    public void Metadata_value_not_a_string()
    {
        var e = OpenFails(WriteSafeTensors("meta.safetensors", "{\"__metadata__\":{\"format\":1}}"));
        Assert.That(e.Message, Does.Contain("__metadata__.format").And.Contain("must be strings"));
    }

    [Test]
    public void Unknown_key_on_load_names_key_and_file()
    {
        string path = WriteSafeTensors("one.safetensors", "{" + Entry("w", "F32", "[1]", "[0,4]") + "}", 4);
        using var file = SafeTensorsFile.Open(path);
        var e = Assert.Throws<CheckpointFormatException>(() => file.Load("nope").Dispose())!;
        Assert.That(e.Message, Does.Contain("one.safetensors").And.Contain("'nope'").And.Contain("no tensor of that name"));
    }

    [Test]
    public void Hole_between_tensors_is_refused_as_python_does()
    {
        // python's safetensors on this file: "invalid offset for tensor `c`" (checked in the reference chroot).
        string header = "{" + Entry("a", "F32", "[1]", "[0,4]") + "," + Entry("b", "I8", "[0]", "[4,4]") + "," + Entry("c", "U8", "[2]", "[8,10]") + "}";
        var e = OpenFails(WriteSafeTensors("gaps.safetensors", header, 10));
        Assert.That(e.Message, Does.Contain("'c'").And.Contain("hole of 4 bytes"));
    }

    [Test]
    public void Bytes_after_the_last_tensor_are_refused_as_python_does()
    {
        // python's safetensors: "incomplete metadata, file not fully covered".
        var e = OpenFails(WriteSafeTensors("trail.safetensors", "{" + Entry("w", "F32", "[1]", "[0,4]") + "}", 8));
        Assert.That(e.Message, Does.Contain("4 bytes after the last tensor's data are not covered"));
    }

    [Test]
    public void Empty_tensor_inside_another_tensors_bytes_is_an_overlap()
    {
        string header = "{" + Entry("a", "F32", "[2]", "[0,8]") + "," + Entry("b", "F32", "[0]", "[4,4]") + "}";
        var e = OpenFails(WriteSafeTensors("inside.safetensors", header, 8));
        Assert.That(e.Message, Does.Contain("'b'").And.Contain("overlap those of 'a'"));
    }

    [Test]
    public void Tensors_listed_out_of_offset_order_load()
    {
        string header = "{" + Entry("b", "U8", "[2]", "[4,6]") + "," + Entry("e", "I8", "[0]", "[6,6]") + "," + Entry("a", "F32", "[1]", "[0,4]") + "}";
        using var file = SafeTensorsFile.Open(WriteSafeTensors("order.safetensors", header, 6));
        Assert.That(file.Tensors.Keys, Is.EquivalentTo(new[] { "a", "b", "e" }));
    }
}
