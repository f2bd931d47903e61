using Blip.Engine.Models;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>Linears on packed weights run as a group of whole 32-row blocks and a tail group: when that happens, and
/// that the vision encoder's outputs stay transformers' (and the ungrouped route's).</summary>
[NonParallelizable]  // sets PackedRowGroups.Policy, OneDnnLinear's policies and libtorch's thread count
public class PackedRowGroupsTests
{
    private (SkinnyLinearPolicy Groups, SkinnyLinearPolicy OneDnn, SkinnyLinearPolicy Widen, bool Enabled) saved;

    [SetUp]
    public void Save()
    {
        saved = (PackedRowGroups.Policy, OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnPackedLinear.Enabled);
        // Forced on, so that the grouped route is checked on every CPU, whichever way Auto decides here.
        (OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnPackedLinear.Enabled) = (SkinnyLinearPolicy.Always, SkinnyLinearPolicy.Never, true);
    }

    [TearDown]
    public void Restore() =>
        (PackedRowGroups.Policy, OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnPackedLinear.Enabled) = saved;

    // rows, threads → the first group's rows (rows: one group).
    [TestCase(577, 2, 576)]     // one ViT image: 19 blocks, 10 rounds for one thread against 9 without the tail row
    [TestCase(576, 2, 576)]     // whole blocks
    [TestCase(577, 1, 577)]     // one thread: the tail costs only its own rows
    [TestCase(577, 4, 577)]     // 19 or 18 blocks are 5 rounds on 4 threads either way
    [TestCase(577, 3, 576)]     // 7 rounds against 6
    [TestCase(65, 2, 64)]
    [TestCase(31, 2, 31)]       // less than a block
    [TestCase(1731, 2, 1731)]   // three images: 28 rounds, more than MaxRounds
    [TestCase(0, 2, 0)]
    public void The_tail_is_split_off_only_where_it_costs_the_threads_a_round_of_their_own(long rows, int threads, long lead) =>
        Assert.That(PackedRowGroups.LeadRows(rows, threads), Is.EqualTo(lead), $"{rows} rows on {threads} threads");

    // bfloat16: against the ungrouped route only (its distance from transformers is BFloat16ParityTests').
    [TestCase(ScalarType.Float32)]
    [TestCase(ScalarType.BFloat16)]
    public void A_vision_forward_in_row_groups_equals_the_ungrouped_one_and_transformers(ScalarType dtype)
    {
        bool packs = dtype == ScalarType.Float32 || CpuFeatures.HasAvx512BFloat16;
        using var scope = NewDisposeScope();
        using var fixtures = new TinyFixtures();
        using var model = dtype == ScalarType.Float32
            ? BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true)
            : BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), dtype: dtype);
        using var threads = TorchThreadScope.Use(2);
        using var inference = inference_mode();
        var pixels = fixtures.Get("pixel_values").to(dtype);
        PackedRowGroups.Policy = SkinnyLinearPolicy.Never;
        for (int use = 0; use < OneDnnPackedLinear.PackOnUse; use++) model.VisionModel.forward(pixels).Dispose();
        var fc1 = (TorchSharp.Modules.Linear)model.named_modules().First(m => m.name == "vision_model.encoder.layers.0.mlp.fc1").module;
        Assert.That(OneDnnPackedLinear.IsPacked(fc1.weight!), Is.EqualTo(packs), $"fc1 is packed after {OneDnnPackedLinear.PackOnUse} forwards");
        using var ungrouped = model.VisionModel.forward(pixels);

        PackedRowGroups.Policy = SkinnyLinearPolicy.Always;
        var hidden = randn(1, 577, fc1.weight!.shape[1]).to(dtype);
        Assert.That(PackedRowGroups.LeadRows(fc1, hidden), Is.EqualTo(packs ? 576 : 577),
            "577 rows on 2 threads run as 576 and 1 where the weight is packed");
        using var grouped = model.VisionModel.forward(pixels);
        TensorAssert.AllClose(ungrouped.LastHiddenState, grouped.LastHiddenState, 1e-6, what: $"grouped against ungrouped, {dtype}");
        if (dtype == ScalarType.Float32)
            TensorAssert.AllClose(fixtures.Get("captioning.vision.last_hidden_state"), grouped.LastHiddenState, 1e-4,
                what: "grouped last_hidden_state against transformers");
    }
}
