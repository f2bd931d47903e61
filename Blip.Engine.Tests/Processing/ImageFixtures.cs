using System.Security.Cryptography;
using System.Text.Json;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

/// <summary>Reads Fixtures/images (made by tools/reference/make_image_fixtures.py).</summary>
internal static class ImageFixtures
{
    public static string Folder => Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", "images");

    public static string Source(string name) => Path.Combine(Folder, "src", name);

    private static readonly Lazy<JsonDocument> Expected = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(TestContext.CurrentContext.TestDirectory, "Fixtures", "images", "expected.json"))));

    public static JsonElement Images => Expected.Value.RootElement.GetProperty("images");

    public static JsonElement Full => Expected.Value.RootElement.GetProperty("full");

    public static IEnumerable<string> ImageNames() => Images.EnumerateObject().Select(p => p.Name).ToList();

    public static IEnumerable<TestCaseData> ResizeCases() =>
        Images.EnumerateObject().SelectMany(img => img.Value.GetProperty("resized").EnumerateArray().Select(r =>
            new TestCaseData(img.Name, r.GetProperty("height").GetInt32(), r.GetProperty("width").GetInt32(), r.GetProperty("sha256").GetString())))
        .ToList();

    /// <summary>Fixtures/images/resample_cases.json (tools/reference/make_resample_cases.py): PIL's BICUBIC resize of
    /// synthetic images to degenerate and lopsided sizes, as (width, height, out width, out height, sha256).</summary>
    public static IEnumerable<TestCaseData> SyntheticResizeCases()
    {
        using var cases = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "resample_cases.json")));
        return cases.RootElement.GetProperty("cases").EnumerateArray().Select(c => new TestCaseData(
            c.GetProperty("width").GetInt32(), c.GetProperty("height").GetInt32(), c.GetProperty("out_width").GetInt32(),
            c.GetProperty("out_height").GetInt32(), c.GetProperty("sha256").GetString())).ToList();
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Sha256(ReadOnlySpan<float> values) =>
        Sha256(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));

    /// <summary>With BLIP_IMAGE_DUMP set, writes what C# produced so the Python side can measure differences.</summary>
    public static void Dump(string name, RgbImage image)
    {
        var dir = Environment.GetEnvironmentVariable("BLIP_IMAGE_DUMP");
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
            File.WriteAllBytes(Path.Combine(dir, $"{name}.{image.Width}x{image.Height}.rgb"), image.Pixels.ToArray());
        }
    }

    /// <summary>
    /// Decodes <paramref name="data"/> and checks it against PIL's result in <paramref name="c"/>: the SHA-256 of its RGB
    /// bytes (<c>decoded_sha256</c>), or its exception (<c>error</c>), where ours must be an ImageDecodeException naming the source.
    /// </summary>
    public static void ExpectPil(JsonElement c, byte[] data, string sourceName)
    {
        if (c.TryGetProperty("error", out var error))
        {
            var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(data, sourceName), $"PIL raises {error}");
            Assert.That(e!.Message, Does.Contain(sourceName));
            return;
        }

        var image = ImageDecoder.Decode(data, sourceName);
        Dump(sourceName, image);
        Assert.That(Sha256(image.Pixels.Span), Is.EqualTo(c.GetProperty("decoded_sha256").GetString()),
            "decoded RGB bytes differ from PIL's; set BLIP_IMAGE_DUMP to compare");
    }

    public static float[] ReadFloats(string file)
    {
        var bytes = File.ReadAllBytes(Path.Combine(Folder, "full", file));
        var floats = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
        return floats;
    }
}
