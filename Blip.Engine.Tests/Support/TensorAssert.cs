namespace Blip.Engine.Tests.Support;

/// <summary>The one numeric assertion of the test suite: compares with the reference and reports the worst element.</summary>
public static class TensorAssert
{
    /// <summary>Asserts |actual - expected| ≤ atol + rtol·|expected| where expected is finite, and the same value where it
    /// is not (NaN for NaN, the same infinity); the failure (and the test log) names the worst element, its index and both
    /// values.</summary>
    public static double AllClose(Tensor expected, Tensor actual, double atol, double rtol = 0, string what = "")
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        using var scope = NewDisposeScope();
        var e = expected.to(ScalarType.Float64, CPU);
        var a = actual.detach().to(ScalarType.Float64, CPU);
        var finite = e.isfinite();
        var same = e.isnan().logical_and(a.isnan()).logical_or(e.isinf().logical_and(a.eq(e)));
        var wrong = finite.logical_and(a.isfinite().logical_not()).logical_or(finite.logical_not().logical_and(same.logical_not())).flatten();
        if (wrong.any().item<bool>())
        {
            long at = wrong.nonzero()[0, 0].item<long>();
            Assert.Fail($"{what}: element [{string.Join(",", Unravel(at, expected.shape))}] expected {e.flatten()[at].item<double>():G9}, " +
                $"actual {a.flatten()[at].item<double>():G9}");
        }
        var diff = where(finite, (a - e).abs(), zeros_like(e));
        var excess = where(finite, diff - (atol + rtol * e.abs()), full_like(e, double.NegativeInfinity));
        long flat = excess.flatten().argmax().item<long>();
        double worst = diff.max().item<double>();
        var index = Unravel(flat, expected.shape);
        double ev = e.flatten()[flat].item<double>(), av = a.flatten()[flat].item<double>();
        double excessAt = excess.flatten()[flat].item<double>();
        TestContext.Out.WriteLine($"{what}: max |diff| = {worst:E3} (worst vs tolerance at [{string.Join(",", index)}]: expected {ev:G9}, actual {av:G9})");
        Assert.That(excessAt, Is.LessThanOrEqualTo(0),
            $"{what}: element [{string.Join(",", index)}] expected {ev:G9}, actual {av:G9}, |diff| {Math.Abs(av - ev):E3} > atol {atol:E1} + rtol {rtol:E1}·|expected|; max |diff| {worst:E3}");
        return worst;
    }

    /// <summary>Asserts two integer tensors are identical, naming the first differing index.</summary>
    public static void Equal(Tensor expected, Tensor actual, string what = "")
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        Assert.That(actual.shape, Is.EqualTo(expected.shape), $"{what}: shape");
        using var scope = NewDisposeScope();
        var ne = expected.to(CPU).ne(actual.to(CPU).to(expected.dtype)).flatten();
        if (!ne.any().item<bool>()) return;
        long flat = ne.nonzero()[0, 0].item<long>();
        Assert.Fail($"{what}: first difference at [{string.Join(",", Unravel(flat, expected.shape))}]: expected " +
            $"{expected.flatten()[flat].item<long>()}, actual {actual.flatten()[flat].item<long>()}");
    }

    private static long[] Unravel(long flat, long[] shape)
    {
        var index = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
        return index;
    }
}
