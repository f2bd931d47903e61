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

    // Pillow 13: Image.frombytes("RGB", (w, h), bytes((i * 37 + 11) % 256 for i in range(w * h * 3)))
    //     .resize((W, H), Image.BICUBIC).tobytes(), hashed with sha256.
    [TestCase(1, 9, 384, 384, "de7b65c8075edfa43de099014ff2e0001a87dc2f4e4edf18a9f382a6af7e8281")]
    [TestCase(9, 1, 1, 1, "95515cc215a17cc300060a7491d20c4ade6012510cd258d098a363cc9ad86ef1")]
    [TestCase(7, 5, 1, 1, "da6ccdd878254dbab89b70ed3bde11867f8d8da0ed8465ce5eb076fa333f9b94")]
    [TestCase(1, 1, 3, 2, "8530ea94d066dda65e2226e9b7a3835010a7e8c2ad3acebcf9da795a88167143")]
    [TestCase(300, 2, 1, 5, "dbc4d401f32c11a0ab119ab2890ff7ee0627268344963b340737a75cfc1d374c")]
    [TestCase(2, 300, 5, 1, "018e3c27a3193f6f8adbcff36e52c7343365184d3a76355814a8c0cd82d13b99")]
    [TestCase(200, 1000, 384, 384, "7d17740e23e31f2f8019a00da730d0bbac359892a7f683e7de2ddc812f77c1d3")] // wider and shorter: vertical pass first
    [TestCase(1000, 200, 384, 384, "86882501b87e1716a0effc2fcd6a2d38f6ae68d702d03bafc63ab995736c2600")]
    [TestCase(30, 40, 31, 39, "31746df03107f1a17a3afa48574fa8ec8c3acb1e8adce31a550c4c19684fc428")]
    public void Degenerate_and_lopsided_sizes_equal_PIL(int w, int h, int outW, int outH, string sha256)
    {
        var pixels = Enumerable.Range(0, w * h * 3).Select(i => (byte)(((i * 37) + 11) % 256)).ToArray();
        var resized = PillowResample.ResizeBicubic(new RgbImage(w, h, pixels), outW, outH);
        Assert.That(ImageFixtures.Sha256(resized.Pixels.Span), Is.EqualTo(sha256));
    }
}
