using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class ImageDecoderTests
{
    private static IEnumerable<string> Names() => ImageFixtures.ImageNames();

    [TestCaseSource(nameof(Names))]
    public void Decode_equals_PIL_convert_RGB(string name)
    {
        var expected = ImageFixtures.Images.GetProperty(name);
        var image = ImageDecoder.Decode(ImageFixtures.Source(name));
        ImageFixtures.Dump(name, image);
        Assert.Multiple(() =>
        {
            Assert.That((image.Width, image.Height),
                Is.EqualTo((expected.GetProperty("width").GetInt32(), expected.GetProperty("height").GetInt32())));
            Assert.That(ImageFixtures.Sha256(image.Pixels.Span), Is.EqualTo(expected.GetProperty("decoded_sha256").GetString()),
                $"decoded RGB bytes differ from PIL's (mode {expected.GetProperty("mode")}); set BLIP_IMAGE_DUMP to compare");
        });
    }

    [Test]
    public void Stream_and_bytes_decode_like_the_file()
    {
        var path = ImageFixtures.Source("jpeg_q90_420_320x240.jpg");
        var fromFile = ImageDecoder.Decode(path);
        using var stream = File.OpenRead(path);
        var fromStream = ImageDecoder.Decode(stream, path);
        var fromBytes = ImageDecoder.Decode(File.ReadAllBytes(path), path);
        Assert.That(fromStream.Pixels.ToArray(), Is.EqualTo(fromFile.Pixels.ToArray()));
        Assert.That(fromBytes.Pixels.ToArray(), Is.EqualTo(fromFile.Pixels.ToArray()));
    }

    [Test]
    public void The_standard_Huffman_tables_are_those_libjpeg_writes()
    {
        // Pillow saves without optimised tables through libjpeg-turbo's std_huff_tables: the 4 DHT segments of such a
        // file are the tables its decoder takes for a missing table of index 0 or 1 (ImageJpegScanSetup.StandardTables).
        var data = File.ReadAllBytes(ImageFixtures.Source("jpeg_q75_444_320x240.jpg"));
        var written = ImageJpegHeader.SegmentsToScan(data, out _).Where(s => s.Marker == 0xC4)
            .SelectMany(s => data.AsSpan(s.Start, s.Length).ToArray()).ToArray();
        Assert.That(written, Is.EqualTo(ImageJpegScanSetup.StandardTables.ToArray()),
            "jpeg_q75_444_320x240.jpg's DHT payloads differ from ImageJpegScanSetup.StandardTables");
    }

    [Test]
    public void Exif_orientation_is_ignored_by_default_and_applied_on_request()
    {
        const string name = "jpeg_orient6_120x80.jpg";
        var expected = ImageFixtures.Images.GetProperty(name);
        var plain = ImageDecoder.Decode(ImageFixtures.Source(name));
        var upright = ImageDecoder.Decode(ImageFixtures.Source(name), new ImageDecodeOptions { ApplyExifOrientation = true });
        Assert.Multiple(() =>
        {
            Assert.That((plain.Width, plain.Height), Is.EqualTo((120, 80)));
            Assert.That((upright.Width, upright.Height), Is.EqualTo((80, 120)));
            Assert.That(ImageFixtures.Sha256(upright.Pixels.Span), Is.EqualTo(expected.GetProperty("exif_transposed_sha256").GetString()));
        });
    }

    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(7)]
    [TestCase(8)]
    public void Orientations_are_the_PIL_transposes(int orientation)
    {
        // 3x2 image, pixel value = its index; the expected layouts are PIL's Image.transpose results.
        var image = new RgbImage(3, 2, Enumerable.Range(0, 6).SelectMany(i => new[] { (byte)i, (byte)i, (byte)i }).ToArray());
        int[] expected = orientation switch
        {
            2 => [2, 1, 0, 5, 4, 3],
            3 => [5, 4, 3, 2, 1, 0],
            4 => [3, 4, 5, 0, 1, 2],
            5 => [0, 3, 1, 4, 2, 5],
            6 => [3, 0, 4, 1, 5, 2],
            7 => [5, 2, 4, 1, 3, 0],
            _ => [2, 5, 1, 4, 0, 3],
        };
        var turned = ImageOrientation.Apply(image, orientation);
        Assert.That(turned.Pixels.ToArray().Where((_, i) => i % 3 == 0).Select(b => (int)b), Is.EqualTo(expected));
    }
}
