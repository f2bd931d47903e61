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

    /// <summary>
    /// PngImagePlugin.MAX_TEXT_MEMORY (64 MiB of text in all chunks) needs too big a file for decode_cases.json, so the
    /// file is built here: zTXt chunks of 1 MiB of zeros each (under MAX_TEXT_CHUNK) put into a plain case's PNG before
    /// or after its image data. Pillow 13 reads 64 of them and raises on 65 ("ValueError: Too much memory used in text
    /// chunks: 68157440>MAX_TEXT_MEMORY"), checked once with tools/reference/py on the same layout.
    /// </summary>
    [TestCase(64, false)]
    [TestCase(64, true)]
    [TestCase(65, false)]
    [TestCase(65, true)]
    public void Text_memory_limit_as_PIL(int chunks, bool afterImageData)
    {
        var plain = Convert.FromBase64String(Case("png_short_tIME_after_idat").GetProperty("base64").GetString()!);
        using var z = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
            zlib.Write(new byte[1024 * 1024]);
        byte[] body = [.. "k\0\0"u8, .. z.ToArray()];
        byte[] chunk = [.. BigEndian(body.Length), .. "zTXt"u8, .. body, .. BigEndian((int)System.IO.Hashing.Crc32.HashToUInt32([.. "zTXt"u8, .. body]))];
        int at = afterImageData ? plain.Length - 12 : 33; // before IEND, or right after IHDR
        var data = new List<byte>(plain[..at]);
        for (int i = 0; i < chunks; i++) data.AddRange(chunk);
        data.AddRange(plain[at..]);
        string name = $"text_memory_{chunks}_zTXt_{(afterImageData ? "after" : "before")}_idat";
        if (chunks > 64)
        {
            var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(data.ToArray(), name));
            Assert.That(e!.Message, Does.Contain(name).And.Contain("MAX_TEXT_MEMORY"));
            return;
        }

        var image = ImageDecoder.Decode(data.ToArray(), name);
        Assert.That(ImageFixtures.Sha256(image.Pixels.Span), Is.EqualTo(Case("png_short_tIME_after_idat").GetProperty("decoded_sha256").GetString()));
    }

    private static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];

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
