using Blip.Engine.Checkpoints;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Models;

/// <summary>Full-size random checkpoints written by transformers (<c>tools/reference/parity_full</c>, 1.8 GB each, not
/// in git): the engine at real dimensions. Category FullSize: excluded from CI (see .ci/run); run by hand with
/// <c>dotnet test -c Release --filter TestCategory=FullSize</c> after <c>tools/reference/parity_full</c>.</summary>
[Category("FullSize")]
[NonParallelizable]
public class FullSizeParityTests
{
    private const double Atol = 1e-4;

    private static (string Folder, SafeTensorsFile Expected) Open(string name)
    {
        var folder = Path.Combine(TestPaths.RepoRoot, ".fullsize", name);
        var file = Path.Combine(folder, "expected.safetensors");
        if (!File.Exists(file)) Assert.Fail($"{file} is missing: run tools/reference/parity_full first");
        return (folder, SafeTensorsFile.Open(file));
    }

    [Test]
    public void Captioning_large_matches_transformers_at_full_size()
    {
        var (folder, expected) = Open("blip-image-captioning-large");
        using var file = expected;
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var model = BlipForConditionalGeneration.FromPretrained(folder);
        using var vision = model.VisionModel.forward(file.Load("pixel_values"));
        TensorAssert.AllClose(file.Load("captioning.vision.last_hidden_state"), vision.LastHiddenState, Atol, what: "vision last_hidden_state");
        TensorAssert.AllClose(file.Load("captioning.vision.pooler_output"), vision.PooledOutput, Atol, what: "vision pooler_output");
        var logits = model.TextDecoder.Forward(file.Load("captioning.input_ids"), file.Load("captioning.attention_mask"), vision.LastHiddenState);
        TensorAssert.AllClose(file.Load("captioning.logits"), logits, Atol, what: "decoder logits");
    }

    [Test]
    public void Itm_large_flickr_matches_transformers_at_full_size()
    {
        var (folder, expected) = Open("blip-itm-large-flickr");
        using var file = expected;
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var model = BlipForImageTextRetrieval.FromPretrained(folder);
        using var vision = model.VisionModel.forward(file.Load("pixel_values"));
        var ids = file.Load("retrieval.input_ids");
        var mask = file.Load("retrieval.attention_mask");
        TensorAssert.AllClose(file.Load("retrieval.vision.last_hidden_state"), vision.LastHiddenState, Atol, what: "vision last_hidden_state");
        TensorAssert.AllClose(file.Load("retrieval.itm_logits"), model.ItmLogits(vision.LastHiddenState, ids, mask), Atol, what: "ITM logits");
        TensorAssert.AllClose(file.Load("retrieval.itc_cosine"), model.ItcSimilarity(vision.LastHiddenState, ids, mask), Atol, what: "ITC cosine");
        TensorAssert.AllClose(file.Load("retrieval.itm_text_hidden"), model.TextEncoder.Forward(ids, mask, encoderStates: vision.LastHiddenState), Atol, what: "ITM text states");
    }
}
