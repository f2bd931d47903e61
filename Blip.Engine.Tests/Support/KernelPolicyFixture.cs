using Blip.Engine.Modules;

namespace Blip.Engine.Tests.Support;

/// <summary>Base of test fixtures that run once per <see cref="SkinnyLinear"/> policy: "Auto" (what this CPU gets) and
/// "Always" (the hand-written kernel wherever it can run), so the kernel's float32 and bfloat16 paths are checked end
/// to end against transformers on every machine, whichever way Auto decides there. Derived fixtures must be
/// <c>[NonParallelizable]</c>: the policy is process-wide.</summary>
public abstract class KernelPolicyFixture(string policy)
{
    private SkinnyLinearPolicy saved;

    /// <summary>Sets the fixture's policy for each test.</summary>
    [SetUp]
    public void SetKernelPolicy() => (saved, SkinnyLinear.Policy) = (SkinnyLinear.Policy, Enum.Parse<SkinnyLinearPolicy>(policy));

    /// <summary>Puts the previous policy back.</summary>
    [TearDown]
    public void RestoreKernelPolicy() => SkinnyLinear.Policy = saved;
}
