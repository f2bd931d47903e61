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
        var lines = new List<string>();
        foreach (var (title, keys, more) in Groups(maxPerGroup))
        {
            lines.Add($"  {title}:");
            lines.AddRange(keys.Select(k => "    " + k));
            if (more > 0) lines.Add($"    ... and {more} more");
        }
        return string.Join(Environment.NewLine, lines);
    }

    /// <summary>As <see cref="Describe(int)"/> on one line: the groups separated by "; ", their keys by ", "
    /// (for a command line's one-line error).</summary>
    public string Summarize(int maxPerGroup) =>
        string.Join("; ", Groups(maxPerGroup).Select(g =>
            $"{g.Title}: {string.Join(", ", g.Keys)}" + (g.More == 0 ? "" : $", ... and {g.More} more")));

    private IEnumerable<(string Title, IEnumerable<string> Keys, int More)> Groups(int maxPerGroup)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPerGroup);
        var groups = new[]
        {
            ("missing from the file", Missing),
            ("unexpected in the file", Unexpected),
            ("not matching the module", (IReadOnlyList<string>)Mismatched.Select(m => $"{m.Key}: {m.Problem}").ToList()),
        };
        return groups.Where(g => g.Item2.Count > 0)
            .Select(g => ($"{g.Item1} ({g.Item2.Count})", g.Item2.Take(maxPerGroup), Math.Max(0, g.Item2.Count - maxPerGroup)));
    }
}
