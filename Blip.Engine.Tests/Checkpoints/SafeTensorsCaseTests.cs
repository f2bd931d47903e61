// safetensors files whose headers differ from what safetensors writes (Fixtures/safetensors/header_cases.json, written
// by tools/reference/make_safetensors_cases.py) against what python's safetensors made of each, as transformers calls
// it: the same metadata, tensor names, dtypes, shapes and bytes where it reads the file, a CheckpointFormatException
// naming the file where it refuses it, and the named refusal where Blip.Engine deliberately refuses what python reads
// ("engine_refuses").
using System.Security.Cryptography;
using System.Text.Json;
using Blip.Engine.Checkpoints;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Checkpoints;

public sealed class SafeTensorsCaseTests : CheckpointTestBase
{
    private static readonly Lazy<JsonElement[]> Cases = new(() => File.ReadLines(TestPaths.Fixture("safetensors", "header_cases.json"))
        .Select(line => JsonDocument.Parse(line).RootElement).ToArray());

    private static IEnumerable<TestCaseData> AllCases() =>
        Cases.Value.Select((c, i) => new TestCaseData(i).SetArgDisplayNames($"{i:D2} {c.GetProperty("name").GetString()}"));

    // python's names of the dtypes Blip.Engine holds (str(torch.dtype) without "torch.").
    private static readonly Dictionary<ScalarType, string> PythonNames = new()
    {
        [ScalarType.Bool] = "bool", [ScalarType.Byte] = "uint8", [ScalarType.Int8] = "int8", [ScalarType.Int16] = "int16",
        [ScalarType.Float16] = "float16", [ScalarType.BFloat16] = "bfloat16", [ScalarType.Int32] = "int32",
        [ScalarType.Float32] = "float32", [ScalarType.Float64] = "float64", [ScalarType.Int64] = "int64",
    };

    [TestCaseSource(nameof(AllCases))]
    public void Header_gives_what_python_safetensors_gives(int index)
    {
        var c = Cases.Value[index];
        string path = WriteRaw("case.safetensors", Convert.FromBase64String(c.GetProperty("file").GetString()!));
        var python = c.GetProperty("python");
        if (c.TryGetProperty("engine_refuses", out var refuses))
        {
            var e = Assert.Throws<CheckpointFormatException>(() => Read(path), $"engine_refuses: {refuses}");
            Assert.That(e!.Message, Does.Contain(path).And.Contain(refuses.GetProperty("message").GetString()!), e.Message);
            return;
        }

        if (!python.GetProperty("read").GetBoolean())
        {
            var e = Assert.Throws<CheckpointFormatException>(() => Read(path), $"python refused it: {python.GetProperty("error")}");
            Assert.That(e!.Message, Does.Contain(path), "the message names the file");
            return;
        }

        var (metadata, tensors) = Read(path);
        var expectedMetadata = python.GetProperty("metadata") is { ValueKind: JsonValueKind.Object } m
            ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!)
            : new Dictionary<string, string>();
        Assert.That(metadata, Is.EquivalentTo(expectedMetadata), "metadata (python's None: none)");
        var expected = python.GetProperty("tensors").EnumerateObject().ToDictionary(p => p.Name,
            p => $"{p.Value.GetProperty("dtype").GetString()} [{string.Join(", ", p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()))}] {p.Value.GetProperty("sha256").GetString()}");
        Assert.That(tensors, Is.EquivalentTo(expected), "tensors: dtype [shape] sha256 of the bytes");
    }

    private static (Dictionary<string, string> Metadata, Dictionary<string, string> Tensors) Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        var tensors = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, info) in file.Tensors)
        {
            using var t = file.Load(name);
            byte[] bytes = t.numel() == 0 ? [] : t.contiguous().bytes.ToArray();
            Assert.That(t.shape, Is.EqualTo(info.Shape), name);
            tensors[name] = $"{PythonNames[info.DType]} [{string.Join(", ", info.Shape)}] {Convert.ToHexStringLower(SHA256.HashData(bytes))}";
        }

        return (file.Metadata.ToDictionary(), tensors);
    }
}
