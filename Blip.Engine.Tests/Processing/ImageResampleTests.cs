using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class ImageResampleTests
{
    private static IEnumerable<TestCaseData> Cases() => ImageFixtures.ResizeCases();

    [TestCaseSource(nameof(Cases))]
    public void Bicubic_equals_PIL_resize(string name, int height, int width, string sha256)
    {
        var image = ImageDecoder.Decode(ImageFixtures.Source(name));
        var resized = PillowResample.ResizeBicubic(image, width, height);
        ImageFixtures.Dump($"{name}.resized", resized);
        Assert.That((resized.Width, resized.Height), Is.EqualTo((width, height)));
        Assert.That(ImageFixtures.Sha256(resized.Pixels.Span), Is.EqualTo(sha256),
            "resized bytes differ from PIL's; set BLIP_IMAGE_DUMP to compare");
    }

    [Test]
    public void Same_size_is_returned_unchanged()
    {
        var image = ImageDecoder.Decode(ImageFixtures.Source("rgb_37x53.png"));
        Assert.That(PillowResample.ResizeBicubic(image, 37, 53), Is.SameAs(image));
    }

    [Test]
    public void Constant_image_stays_constant_up_and_down()
    {
        var image = new RgbImage(7, 5, Enumerable.Repeat((byte)200, 7 * 5 * 3).ToArray());
        foreach (var (w, h) in new[] { (1, 1), (3, 9), (50, 2), (384, 384) })
        {
            Assert.That(PillowResample.ResizeBicubic(image, w, h).Pixels.ToArray(), Is.All.EqualTo(200), $"{w}x{h}");
        }
    }

    // The synthetic image of tools/reference/make_resample_cases.py: bytes((i * 37 + 11) % 256 for i in range(w * h * 3)).
    [TestCaseSource(typeof(ImageFixtures), nameof(ImageFixtures.SyntheticResizeCases))]
    public void Degenerate_and_lopsided_sizes_equal_PIL(int w, int h, int outW, int outH, string sha256)
    {
        var pixels = Enumerable.Range(0, w * h * 3).Select(i => (byte)(((i * 37) + 11) % 256)).ToArray();
        var resized = PillowResample.ResizeBicubic(new RgbImage(w, h, pixels), outW, outH);
        Assert.That(ImageFixtures.Sha256(resized.Pixels.Span), Is.EqualTo(sha256));
    }
}
