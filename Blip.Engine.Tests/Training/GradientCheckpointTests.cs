// Gradient checkpointing recomputes the vision layers in backward and must give the plain path's gradients.
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class GradientCheckpointTests
{
    private static Dictionary<string, Tensor> Gradients(bool checkpointed)
    {
        string folder = TinyFixtures.ModelFolder("captioning");
        using var tiny = new TinyFixtures();
        using var model = BlipForConditionalGeneration.FromPretrained(folder);
        using var tokenizer = BlipTokenizer.Load(folder);
        model.train();
        GradientCheckpoint.EnableForVision(model, checkpointed);
        using var targets = CaptionTargets.Build(tokenizer, ["a dog running", "a photography of a cafe"], CaptionLossSettings.Transformers);
        using (var scope = NewDisposeScope()) CaptionLoss.Compute(model, tiny.Get("pixel_values"), targets, CaptionLossSettings.Transformers).backward();
        return model.named_parameters().Where(p => p.parameter.grad is not null)
            .ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
    }

    [Test]
    public void Checkpointed_vision_layers_give_the_plain_gradients()
    {
        var plain = Gradients(false);
        var checkpointed = Gradients(true);
        Assert.That(checkpointed.Keys, Is.EquivalentTo(plain.Keys));
        Assert.That(plain.Keys.Count(k => k.StartsWith("vision_model.encoder.layers.", StringComparison.Ordinal)), Is.GreaterThan(0));
        foreach (var (name, grad) in plain)
            TensorAssert.AllClose(grad, checkpointed[name], 1e-7, 1e-6, name);
        foreach (var t in plain.Values.Concat(checkpointed.Values)) t.Dispose();
    }
}
