namespace Blip.Engine.Tests.Processing;

/// <summary>Element-wise closeness that reports the worst element and its index.</summary>
internal static class ImageTensorAssert
{
    public static double AllClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double atol, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{what}: element count");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs((double)expected[i] - actual[i]);
            if (d > worst || double.IsNaN(d))
            {
                worst = d;
                at = i;
            }
        }

        Assert.That(worst, Is.LessThanOrEqualTo(atol),
            at < 0 ? what : $"{what}: worst |diff| {worst:E3} at flat index {at} (expected {expected[at]:R}, got {actual[at]:R})");
        TestContext.Out.WriteLine($"{what}: max |diff| = {worst:E3}");
        return worst;
    }
}
