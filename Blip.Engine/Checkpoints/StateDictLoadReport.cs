// The outcome of StateDictLoader.Load: what was loaded and every key that did not fit.
namespace Blip.Engine.Checkpoints;

/// <summary>What <see cref="StateDictLoader.Load"/> did.</summary>
/// <param name="Loaded">File keys copied into the module.</param>
/// <param name="Missing">Module keys the file lacks (not tolerated, not supplied through a tied twin).</param>
/// <param name="Unexpected">File keys the module lacks (not tolerated).</param>
/// <param name="Mismatched">Keys whose shapes (or, with <see cref="StateDictLoadOptions.DType"/>, dtypes) differ.</param>
/// <param name="Skipped">File keys not read: tolerated extras and tied twins of a key already loaded.</param>
public sealed record StateDictLoadReport(
    IReadOnlyList<string> Loaded,
    IReadOnlyList<string> Missing,
    IReadOnlyList<string> Unexpected,
    IReadOnlyList<StateDictMismatch> Mismatched,
    IReadOnlyList<string> Skipped)
{
    /// <summary>True when nothing is missing, unexpected or mismatched.</summary>
    public bool IsClean => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    /// <summary>Every problem, grouped, one key per line.</summary>
    public string Describe() => Describe(int.MaxValue);

    /// <summary>As <see cref="Describe()"/>, each group cut after <paramref name="maxPerGroup"/> keys with a count of
    /// the rest (a checkpoint of another task misses or adds ~60 keys; the report keeps them all).</summary>
    public string Describe(int maxPerGroup)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPerGroup);
        var lines = new List<string>();
        Group(lines, "missing from the file", Missing, maxPerGroup);
        Group(lines, "unexpected in the file", Unexpected, maxPerGroup);
        Group(lines, "not matching the module", Mismatched.Select(m => $"{m.Key}: {m.Problem}").ToList(), maxPerGroup);
        return string.Join(Environment.NewLine, lines);
    }

    private static void Group(List<string> lines, string title, IReadOnlyList<string> keys, int max)
    {
        if (keys.Count == 0)
            return;
        lines.Add($"  {title} ({keys.Count}):");
        lines.AddRange(keys.Take(max).Select(k => "    " + k));
        if (keys.Count > max) lines.Add($"    ... and {keys.Count - max} more");
    }
}
