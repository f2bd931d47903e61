using Blip.Engine.Modules;

namespace Blip.Engine.Tests.Support;

/// <summary>Base of test fixtures that run once per kernel policy: "Auto" (what this CPU gets), "Always" (the
/// hand-written few-row kernel <see cref="SkinnyLinear"/> wherever it can run, and every other float32 linear through
/// oneDNN, <see cref="OneDnnLinear"/>) and "Packed" (as Always, but decoding steps of every row count on a weight's
/// packed oneDNN copy wherever it has one, <see cref="SkinnyLinear.PackedFirstFor"/>; float32 weights are packed only
/// when memory-mapped, so such fixtures load their models with <see cref="MemoryMap"/>), and "Widened" (as Auto, but
/// every bfloat16 linear and vision attention run as float32 products of exact widened copies, as Auto does for many
/// rows on CPUs whose bfloat16 products are slow: <see cref="OneDnnLinear.WidenPolicy"/>), so each path is checked end to
/// end against transformers on every machine, whichever way Auto decides there. Derived fixtures must be
/// <c>[NonParallelizable]</c>: the policies are process-wide.</summary>
public abstract class KernelPolicyFixture(string policy)
{
    private (SkinnyLinearPolicy Skinny, SkinnyLinearPolicy OneDnn, bool? PackedSteps, bool Packing, int PackOnUse, int StepPackOnUse) saved;
    private (SkinnyLinearPolicy Policy, long MinRows, bool Attention) savedWiden;

    /// <summary>Whether the fixture's models load memory-mapped (as the pipelines load them): for "Packed".</summary>
    protected bool MemoryMap => policy == "Packed";

    /// <summary>Sets the fixture's policy for each test.</summary>
    [SetUp]
    public void SetKernelPolicy()
    {
        saved = (SkinnyLinear.Policy, OneDnnLinear.Policy, SkinnyLinear.PackedStepsOverride, OneDnnPackedLinear.Enabled, OneDnnPackedLinear.PackOnUse,
            SkinnyLinear.StepPackOnUse);
        savedWiden = (OneDnnLinear.WidenPolicy, OneDnnLinear.WidenMinRows, SelfAttentionKernel.WidensBFloat16);
        SkinnyLinear.Policy = OneDnnLinear.Policy = policy switch
        {
            "Packed" => SkinnyLinearPolicy.Always,
            "Widened" => SkinnyLinearPolicy.Auto,
            _ => Enum.Parse<SkinnyLinearPolicy>(policy),
        };
        // "Widened": the tiny models' linears have fewer rows than the widening's threshold, so it is lowered to one
        if (policy == "Widened")
            (OneDnnLinear.WidenPolicy, OneDnnLinear.WidenMinRows, SelfAttentionKernel.WidensBFloat16) = (SkinnyLinearPolicy.Always, 1, true);
        // "Packed": weights packed on their first use, so that every step of even a short generation runs on them
        if (MemoryMap)
        {
            (SkinnyLinear.PackedStepsOverride, OneDnnPackedLinear.Enabled) = (true, true);
            (OneDnnPackedLinear.PackOnUse, SkinnyLinear.StepPackOnUse) = (1, 1);
        }
    }

    /// <summary>Puts the previous policies back.</summary>
    [TearDown]
    public void RestoreKernelPolicy()
    {
        (SkinnyLinear.Policy, OneDnnLinear.Policy, SkinnyLinear.PackedStepsOverride, OneDnnPackedLinear.Enabled, OneDnnPackedLinear.PackOnUse,
            SkinnyLinear.StepPackOnUse) = saved;
        (OneDnnLinear.WidenPolicy, OneDnnLinear.WidenMinRows, SelfAttentionKernel.WidensBFloat16) = savedWiden;
    }

    /// <summary>Under "Packed", asserts that decoding steps took packed weights since <paramref name="before"/> (a
    /// reading of <see cref="SkinnyLinear.PackedSteps"/>) where <paramref name="dtype"/> packs on this CPU (float32
    /// always, bfloat16 with AVX512-BF16), and that none did where it does not; nothing under the other policies.</summary>
    protected void AssertPackedSteps(long before, ScalarType dtype, string what)
    {
        if (!MemoryMap) return;
        bool packs = dtype == ScalarType.Float32 || CpuFeatures.HasAvx512BFloat16;
        Assert.That(SkinnyLinear.PackedSteps > before, Is.EqualTo(packs),
            $"{what}: decoding steps on packed {dtype} weights ({SkinnyLinear.PackedSteps - before} linears; AVX512-BF16 {CpuFeatures.HasAvx512BFloat16})");
    }
}
