using Blip.Engine.Config;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Generation;

/// <summary>generate() against transformers on the randomized option combinations of <c>Fixtures/generation/sweep.json</c>
/// (tools/reference/make_generation_sweep.py): the same ids, the same beam scores, and an ArgumentException or a
/// ConfigException naming the key wherever transformers raises a ValueError or the case sets a transformers option
/// Blip.Engine does not implement; under each kernel policy, as the beams and samples give row counts (up to 4 inputs
/// × 5) the hand-picked cases do not.</summary>
[TestFixture("Auto")]
[TestFixture("Always")]
[TestFixture("Packed")]
[NonParallelizable]
public class GenerationSweepTests(string policy) : KernelPolicyFixture(policy)
{
    [TestCaseSource(typeof(SweepCase), nameof(SweepCase.All))]
    public void Sweep_case_equals_transformers(SweepCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        using var tiny = new TinyFixtures();
        if (c.Unsupported is { } key)
        {
            var e = Assert.Throws<ConfigException>(() => c.ToGenerationCase(), $"{c.Name}: {key} is not implemented, so it must be refused");
            Assert.That(e!.Field, Is.EqualTo(key), e.Message);
            return;
        }
        if (c.Refused is not null)
        {
            // Options that Validate refuses are refused while the kwargs are read (ConfigException naming the key);
            // lengths only generate() can judge, by generate() (ArgumentException).
            var e = Assert.Catch(() => TransformersParityTests.Run(c.ToGenerationCase(), tiny, memoryMap: MemoryMap).Dispose(),
                $"{c.Name}: transformers refuses it ({c.Refused})");
            Assert.That(e, Is.InstanceOf<ArgumentException>().Or.InstanceOf<ConfigException>(), $"{c.Name}: {e}");
            return;
        }
        using var result = TransformersParityTests.Run(c.ToGenerationCase(), tiny, memoryMap: MemoryMap);
        var expected = tensor(c.Ids!.SelectMany(r => r).ToArray(), c.Ids!.Length, c.Ids![0].Length);
        string expectedRows = Rows(c.Ids!), actualRows = Rows(Matrix(result.Sequences));
        if (expectedRows != actualRows) TestContext.Out.WriteLine($"expected:\n{expectedRows}\nactual:\n{actualRows}");
        TensorAssert.Equal(expected, result.Sequences, c.Name);
        if (c.Scores is null)
        {
            Assert.That(result.SequenceScores, Is.Null, $"{c.Name}: scores without beam search");
            return;
        }
        Assert.That(result.SequenceScores, Is.Not.Null, $"{c.Name}: beam scores");
        // Scores reach 1e3 (temperature 0.05 divides every log-probability by 0.05; negative length penalties multiply
        // by the length), where 1e-4 is less than one float32 step: rtol 1e-6 allows a few steps there.
        TensorAssert.AllClose(tensor(c.Scores), tensor(result.SequenceScores!.ToArray()), 1e-4, 1e-6, $"{c.Name} scores");
    }

    private static long[][] Matrix(Tensor ids)
    {
        long[] all = ids.to(CPU).contiguous().data<long>().ToArray();
        int width = (int)ids.shape[1];
        return [.. all.Chunk(width)];
    }

    private static string Rows(IEnumerable<long[]> rows) => string.Join("\n", rows.Select(r => string.Join(",", r)));
}
