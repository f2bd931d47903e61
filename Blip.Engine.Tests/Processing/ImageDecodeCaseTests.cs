using System.Text.Json;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

/// <summary>
/// Files on which Skia once disagreed with Pillow (found by a differential fuzz of ImageDecoder): WBMP, BMP layouts,
/// cut WebP and ICO files, PNG chunk damage; and files whose EXIF or XMP orientation only Pillow read (a PNG's eXIf,
/// XMP in every format, EXIF tags of other types), against Fixtures/images/decode_cases.json (tools/reference/make_decode_cases.py).
/// </summary>
public sealed class ImageDecodeCaseTests
{
    private static readonly Lazy<JsonDocument> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(ImageFixtures.Folder, "decode_cases.json"))));

    private static List<TestCaseData> Names() =>
        Cases.Value.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new TestCaseData(c.GetProperty("name").GetString()).SetArgDisplayNames(c.GetProperty("name").GetString()!))
            .ToList();

    private static List<TestCaseData> OrientationNames() =>
        Cases.Value.RootElement.GetProperty("cases").EnumerateArray()
            .Where(c => c.TryGetProperty("transposed_sha256", out _) || c.TryGetProperty("transposed_error", out _))
            .Select(c => new TestCaseData(c.GetProperty("name").GetString()).SetArgDisplayNames(c.GetProperty("name").GetString()!))
            .ToList();

    private static JsonElement Case(string name) =>
        Cases.Value.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);

    [TestCaseSource(nameof(Names))]
    public void Decodes_or_refuses_as_PIL(string name)
    {
        var c = Case(name);
        ImageFixtures.ExpectPil(c, Convert.FromBase64String(c.GetProperty("base64").GetString()!), name);
    }

    /// <summary>ApplyExifOrientation gives <c>ImageOps.exif_transpose(Image.open(f)).convert("RGB")</c> (transformers'
    /// load_image), or refuses the file where exif_transpose raises.</summary>
    [TestCaseSource(nameof(OrientationNames))]
    public void Orients_or_refuses_as_PIL_exif_transpose(string name)
    {
        var c = Case(name);
        var data = Convert.FromBase64String(c.GetProperty("base64").GetString()!);
        var options = new ImageDecodeOptions { ApplyExifOrientation = true };
        if (c.TryGetProperty("transposed_error", out var error))
        {
            var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(data, name, options), $"PIL raises {error}");
            Assert.That(e!.Message, Does.Contain(name));
            return;
        }

        var image = ImageDecoder.Decode(data, name, options);
        ImageFixtures.Dump(name, image);
        var size = c.GetProperty("transposed_size");
        Assert.Multiple(() =>
        {
            Assert.That((image.Width, image.Height), Is.EqualTo((size[0].GetInt32(), size[1].GetInt32())));
            Assert.That(ImageFixtures.Sha256(image.Pixels.Span), Is.EqualTo(c.GetProperty("transposed_sha256").GetString()),
                "oriented RGB bytes differ from PIL's exif_transpose; set BLIP_IMAGE_DUMP to compare");
        });
    }
}
