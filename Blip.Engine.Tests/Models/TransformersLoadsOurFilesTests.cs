using Blip.Engine.Checkpoints;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>transformers' from_pretrained loads a folder whose weights Blip.Engine wrote, with no missing or unexpected
/// keys and the same logits. Runs the Python reference: category Reference.</summary>
[Category("Reference")]
public class TransformersLoadsOurFilesTests
{
    [TestCase("captioning", "BlipForConditionalGeneration")]
    [TestCase("retrieval", "BlipForImageTextRetrieval")]
    [TestCase("vqa", "BlipForQuestionAnswering")]
    public void Transformers_loads_weights_we_wrote(string fixture, string transformersClass)
    {
        using var dir = TestPaths.NewTempDir();
        var source = TinyFixtures.ModelFolder(fixture);
        foreach (var file in Directory.GetFiles(source).Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal)))
            File.Copy(file, Path.Combine(dir.Path, Path.GetFileName(file)));
        using (var model = LoadAny(fixture, source))
        {
            // Tied aliases are left out as transformers 5 leaves them out.
            var weights = model.state_dict().Where(kv => !PretrainedLoader.TiedAliases(model).Contains(kv.Key));
            SafeTensorsWriter.Save(Path.Combine(dir.Path, "model.safetensors"), weights);
        }
        var (exitCode, output) = ReferencePython.Run("tools/reference/check_transformers_load.py", transformersClass, dir.Path,
            TestPaths.Fixture("tiny", "expected.safetensors"));
        Assert.That(exitCode, Is.Zero, output);
        Assert.That(output, Does.Contain("OK"));
    }

    private static TorchSharp.torch.nn.Module LoadAny(string fixture, string folder) => fixture switch
    {
        "captioning" => BlipForConditionalGeneration.FromPretrained(folder),
        "retrieval" => BlipForImageTextRetrieval.FromPretrained(folder),
        _ => BlipForQuestionAnswering.FromPretrained(folder),
    };
}
