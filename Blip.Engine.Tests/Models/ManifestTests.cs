using System.Text.Json;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Every full-size network has exactly the tensor names and shapes that transformers' class has with the real
/// Hub config (<c>weights/manifests</c>, written by <c>tools/reference/make_manifests.py</c>). Built on the meta
/// device, so nothing of the 2 GB is allocated.</summary>
[NonParallelizable]
public class ManifestTests
{
    public static IEnumerable<string> Manifests() =>
        new[] { "blip-image-captioning-base", "blip-image-captioning-large", "blip-itm-base-coco", "blip-itm-large-coco",
                "blip-itm-base-flickr", "blip-itm-large-flickr", "blip-vqa-base", "blip-vqa-capfilt-large" };

    [TestCaseSource(nameof(Manifests))]
    public void Full_size_network_has_the_manifest_names_and_shapes(string name)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Manifests", name + ".json");
        Assert.That(File.Exists(path), Is.True, $"manifest missing: {path}");
        using var manifest = JsonDocument.Parse(File.ReadAllText(path));
        var root = manifest.RootElement;
        var config = BlipConfig.Parse(root.GetProperty("config").GetRawText(), path);
        var nonPersistent = root.GetProperty("non_persistent_buffers").EnumerateArray().Select(e => e.GetString()!).ToHashSet();
        var expected = root.GetProperty("tensors").EnumerateArray()
            .Where(t => !nonPersistent.Contains(t.GetProperty("name").GetString()!))
            .ToDictionary(t => t.GetProperty("name").GetString()!,
                          t => string.Join(",", t.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())));

        var previous = get_default_device();
        set_default_device(new Device(DeviceType.META));
        try
        {
            using nn.Module model = root.GetProperty("class").GetString() switch
            {
                "BlipForConditionalGeneration" => new BlipForConditionalGeneration(config),
                "BlipForImageTextRetrieval" => new BlipForImageTextRetrieval(config),
                "BlipForQuestionAnswering" => new BlipForQuestionAnswering(config),
                var other => throw new AssertionException($"{path}: unknown class {other}"),
            };
            var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => string.Join(",", kv.Value.shape));
            Assert.That(actual, Has.Count.GreaterThan(100));
            var missing = expected.Keys.Except(actual.Keys).Order().ToList();
            var extra = actual.Keys.Except(expected.Keys).Order().ToList();
            var misshaped = expected.Keys.Intersect(actual.Keys).Where(k => expected[k] != actual[k])
                .Select(k => $"{k}: manifest [{expected[k]}], ours [{actual[k]}]").ToList();
            Assert.Multiple(() =>
            {
                Assert.That(missing, Is.Empty, "in transformers' class but not ours");
                Assert.That(extra, Is.Empty, "ours but not in transformers' class");
                Assert.That(misshaped, Is.Empty, "shapes differ");
            });
            Assert.That(model.parameters().All(p => p.device_type == DeviceType.META), "built without allocating weights");
        }
        finally
        {
            set_default_device(previous);
        }
    }
}
