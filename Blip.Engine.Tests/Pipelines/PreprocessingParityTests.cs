using Blip.Engine.Config;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Pipelines;

/// <summary>The model folders' own processor config applied to the tiny images gives the pixel_values transformers'
/// BlipProcessor gave for them (PNG, grayscale JPEG, RGBA PNG).</summary>
public class PreprocessingParityTests
{
    [Test]
    public void Tiny_images_preprocess_to_transformers_pixel_values()
    {
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(TinyFixtures.ModelFolder("captioning")));
        var pixels = processor.Preprocess([TestPaths.Fixture("tiny", "images", "rgb.png"), TestPaths.Fixture("tiny", "images", "gray.jpg")]);
        TensorAssert.AllClose(fixtures.Get("pixel_values"), pixels, 1e-6, what: "rgb.png + gray.jpg");
        var rgba = processor.Preprocess([TestPaths.Fixture("tiny", "images", "rgba.png")]);
        TensorAssert.AllClose(fixtures.Get("pixel_values_rgba"), rgba, 1e-6, what: "rgba.png (alpha dropped)");
    }
}
