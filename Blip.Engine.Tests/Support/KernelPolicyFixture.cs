using Blip.Engine.Modules;

namespace Blip.Engine.Tests.Support;

/// <summary>Base of test fixtures that run once per kernel policy: "Auto" (what this CPU gets) and "Always" (the
/// hand-written few-row kernel <see cref="SkinnyLinear"/> wherever it can run, and every other float32 linear through
/// oneDNN, <see cref="OneDnnLinear"/>), so both paths are checked end to end against transformers on every machine,
/// whichever way Auto decides there. Derived fixtures must be <c>[NonParallelizable]</c>: the policies are
/// process-wide.</summary>
public abstract class KernelPolicyFixture(string policy)
{
    private (SkinnyLinearPolicy Skinny, SkinnyLinearPolicy OneDnn) saved;

    /// <summary>Sets the fixture's policy for each test.</summary>
    [SetUp]
    public void SetKernelPolicy()
    {
        saved = (SkinnyLinear.Policy, OneDnnLinear.Policy);
        SkinnyLinear.Policy = OneDnnLinear.Policy = Enum.Parse<SkinnyLinearPolicy>(policy);
    }

    /// <summary>Puts the previous policies back.</summary>
    [TearDown]
    public void RestoreKernelPolicy() => (SkinnyLinear.Policy, OneDnnLinear.Policy) = saved;
}
