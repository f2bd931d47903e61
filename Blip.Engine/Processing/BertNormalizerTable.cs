// Where tokenizers 0.23's Unicode data differ from .NET 10's (Unicode 16.0), read from the generated
// BertNormalizerTable.Data.g.cs (tools/reference/make_bert_normalizer_table.py).
using System.Globalization;
using System.Text;

namespace Blip.Engine.Processing;

/// <summary>tokenizers' view of a code point, for the few thousand where it is not Unicode 16.0's or not .NET's.</summary>
internal static partial class BertNormalizerTable
{
    /// <summary>A Cc/Cf/Co code point that clean_text keeps (its category tables are older).</summary>
    public static bool KeptByCleanText(int c) => KeptControls.BinarySearch(c) >= 0;

    /// <summary>Whether strip_accents removes <paramref name="rune"/> (a code point tokenizers' NFD leaves alone).</summary>
    public static bool IsNonspacingMark(Rune rune) => Rune.GetUnicodeCategory(rune) == UnicodeCategory.NonSpacingMark
        ? NotNonspacing.BinarySearch(rune.Value) < 0
        : ExtraNonspacing.BinarySearch(rune.Value) >= 0;

    /// <summary>A code point tokenizers' NFD neither decomposes nor reorders (class 0 there), unlike Unicode 16.0.</summary>
    public static bool IsUnnormalized(int c) => Unnormalized.BinarySearch(c) >= 0;

    /// <summary>Rust's char::to_lowercase of <paramref name="rune"/> (the full mapping), without the system's ICU.</summary>
    public static string Lowercase(Rune rune)
    {
        int c = rune.Value;
        if (LowercaseMulti.TryGetValue(c, out var multi))
            return multi;
        var runs = LowercaseRuns;
        int lo = 0, hi = runs.Length / 4 - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2, first = runs[4 * mid], last = runs[4 * mid + 1];
            if (c < first)
                hi = mid - 1;
            else if (c > last)
                lo = mid + 1;
            else
                return (c - first) % runs[4 * mid + 2] == 0 ? new Rune(c + runs[4 * mid + 3]).ToString() : rune.ToString();
        }
        return rune.ToString();
    }
}
