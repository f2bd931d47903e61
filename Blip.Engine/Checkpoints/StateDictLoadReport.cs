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
    public string Describe()
    {
        var lines = new List<string>();
        Group(lines, "missing from the file", Missing);
        Group(lines, "unexpected in the file", Unexpected);
        Group(lines, "not matching the module", Mismatched.Select(m => $"{m.Key}: {m.Problem}").ToList());
        return string.Join(Environment.NewLine, lines);
    }

    private static void Group(List<string> lines, string title, IReadOnlyList<string> keys)
    {
        if (keys.Count == 0)
            return;
        lines.Add($"  {title} ({keys.Count}):");
        lines.AddRange(keys.Select(k => "    " + k));
    }
}
