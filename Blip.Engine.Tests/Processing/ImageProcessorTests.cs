using Blip.Engine.Config;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class ImageProcessorTests
{
    private static List<string> FullNames() => ImageFixtures.Full.EnumerateObject().Select(p => p.Name).ToList();

    [TestCaseSource(nameof(FullNames))]
    public void Pixel_values_match_transformers_within_1e_6(string file)
    {
        var spec = ImageFixtures.Full.GetProperty(file);
        int h = spec.GetProperty("height").GetInt32(), w = spec.GetProperty("width").GetInt32();
        var processor = new BlipImageProcessor(new ImageProcessorConfig { Height = h, Width = w });
        var source = spec.GetProperty("source").GetString()!;
        var image = file.StartsWith("ramp", StringComparison.Ordinal) ? Ramp() : ImageDecoder.Decode(ImageFixtures.Source(source));
        using var pixels = processor.Preprocess([image]);
        Assert.That(pixels.shape, Is.EqualTo(new long[] { 1, 3, h, w }));
        Assert.That(pixels.dtype, Is.EqualTo(ScalarType.Float32));
        var worst = ImageTensorAssert.AllClose(ImageFixtures.ReadFloats(file), pixels.data<float>().ToArray(), 1e-6, file);
        Assert.That(worst, Is.Zero, "expected bit-identical values (same float64→float32 order as numpy)");
    }

    [TestCase("rgb_1000x700.png")]
    [TestCase("jpeg_q90_1000x700.jpg")]
    public void Pixel_values_at_384_are_bit_identical(string name)
    {
        var processor = new BlipImageProcessor();
        using var pixels = processor.Preprocess([ImageFixtures.Source(name)]);
        Assert.That(pixels.shape, Is.EqualTo(new long[] { 1, 3, 384, 384 }));
        Assert.That(ImageFixtures.Sha256(pixels.data<float>().ToArray()),
            Is.EqualTo(ImageFixtures.Images.GetProperty(name).GetProperty("pixel_values_384_sha256").GetString()));
    }

    [Test]
    public void Batches_from_paths_bytes_and_streams_agree()
    {
        var processor = new BlipImageProcessor(new ImageProcessorConfig { Height = 32, Width = 24 });
        string[] paths = [ImageFixtures.Source("rgb_200x150.png"), ImageFixtures.Source("jpeg_gray_160x120.jpg")];
        using var fromPaths = processor.Preprocess(paths);
        using var fromBytes = processor.Preprocess(paths.Select(File.ReadAllBytes));
        using var stream = File.OpenRead(paths[1]);
        using var fromStream = processor.Preprocess(stream, paths[1]);
        Assert.That(fromPaths.shape, Is.EqualTo(new long[] { 2, 3, 32, 24 }));
        Assert.That(fromBytes.allclose(fromPaths, 0, 0), Is.True);
        using var second = fromPaths[1].unsqueeze(0);
        Assert.That(fromStream.allclose(second, 0, 0), Is.True);
    }

    [Test]
    public void Without_resize_different_sizes_cannot_be_batched()
    {
        var processor = new BlipImageProcessor(new ImageProcessorConfig { DoResize = false });
        var a = new RgbImage(2, 2, new byte[12]);
        var b = new RgbImage(3, 2, new byte[18]);
        var e = Assert.Throws<ArgumentException>(() => processor.Preprocess([a, b]).Dispose());
        Assert.That(e!.Message, Does.Contain("images[1]"));
    }

    [Test]
    public void Rescale_and_normalize_switches_follow_transformers()
    {
        var image = new RgbImage(1, 1, new byte[] { 0, 128, 255 });
        using var raw = new BlipImageProcessor(new ImageProcessorConfig { DoRescale = false, DoNormalize = false }).Preprocess([image]);
        using var scaled = new BlipImageProcessor(new ImageProcessorConfig { Height = 1, Width = 1, DoNormalize = false }).Preprocess([image]);
        Assert.That(raw.data<float>().ToArray().Take(1), Is.EqualTo(new[] { 0f }));
        Assert.That(raw.shape, Is.EqualTo(new long[] { 1, 3, 384, 384 }));
        Assert.That(scaled.data<float>().ToArray(), Is.EqualTo(new[] { 0f, (float)(128 / 255.0), 1f }));
    }

    // The 256x3 ramp of make_image_fixtures.py: every byte value in every channel.
    private static RgbImage Ramp()
    {
        var a = new byte[3 * 256 * 3];
        for (int x = 0; x < 256; x++)
        {
            byte[] row1 = [(byte)(255 - x), (byte)x, (byte)(x * 7 % 256)];
            for (int c = 0; c < 3; c++)
            {
                a[(x * 3) + c] = (byte)x;
                a[(256 * 3) + (x * 3) + c] = row1[c];
            }
        }

        for (int x = 0; x < 256; x++)
        {
            for (int c = 0; c < 3; c++)
            {
                a[(2 * 256 * 3) + (x * 3) + c] = a[(256 * 3) + ((255 - x) * 3) + c];
            }
        }

        return new RgbImage(256, 3, a);
    }
}
