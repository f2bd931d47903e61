// The BertNormalizer of Hugging Face tokenizers (normalizers/bert.rs) on a plain string: what tokenizers 0.23 stores
// as the text of an added token marked "normalized".
using System.Globalization;
using System.Text;

namespace Blip.Engine.Processing;

/// <summary>BERT's text normalization: clean text, CJK split, accent strip, lowercase, in the Rust library's order.</summary>
/// <remarks>Equal to tokenizers 0.23's for every code point: where its crates' Unicode data differ from .NET 10's (marks and
/// format characters newer than its category tables, two marks it strips, decompositions and combining classes it lacks)
/// <see cref="BertNormalizerTable"/> says what tokenizers does, and lowercasing reads Rust's mapping from it rather than the
/// system's ICU. NFD still runs on ICU, only for code points tokenizers' NFD knows (stable since long before ICU 72).</remarks>
internal static class BertNormalizer
{
    /// <summary>Normalizes <paramref name="text"/> as a BertNormalizer with these settings does (clean_text on).</summary>
    /// <param name="text">Any text.</param>
    /// <param name="handleChineseChars">Put spaces around CJK ideographs (<c>handle_chinese_chars</c>).</param>
    /// <param name="stripAccents">Remove nonspacing marks after NFD; null: when lowercasing, as BERT does.</param>
    /// <param name="lowercase">Lowercase (<c>lowercase</c>).</param>
    public static string Normalize(string text, bool handleChineseChars, bool? stripAccents, bool lowercase)
    {
        var clean = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is 0 or 0xFFFD || IsControl(rune) && !BertNormalizerTable.KeptByCleanText(rune.Value))
                continue;
            if (Rune.IsWhiteSpace(rune))
                clean.Append(' ');
            else if (handleChineseChars && IsChinese(rune.Value))
                clean.Append(' ').Append(rune.ToString()).Append(' ');
            else
                clean.Append(rune.ToString());
        }
        string result = clean.ToString();
        if (stripAccents ?? lowercase)
        {
            var kept = new StringBuilder(result.Length);
            foreach (var rune in Nfd(result).EnumerateRunes())
            {
                if (!BertNormalizerTable.IsNonspacingMark(rune))
                    kept.Append(rune.ToString());
            }
            result = kept.ToString();
        }
        return lowercase ? Lowercase(result) : result;
    }

    private static string Lowercase(string text)
    {
        var result = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
            result.Append(BertNormalizerTable.Lowercase(rune));
        return result.ToString();
    }

    // NFD of text that may hold unassigned code points, which string.Normalize refuses, and code points tokenizers' NFD
    // does not know: they decompose to themselves and, of combining class 0, end every sequence NFD reorders, so the runs
    // between them are normalized on their own.
    private static string Nfd(string text)
    {
        var result = new StringBuilder(text.Length);
        var run = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.OtherNotAssigned && !BertNormalizerTable.IsUnnormalized(rune.Value))
            {
                run.Append(rune.ToString());
                continue;
            }
            result.Append(NfdOrSelf(run.ToString())).Append(rune.ToString());
            run.Clear();
        }
        return result.Append(NfdOrSelf(run.ToString())).ToString();
    }

    // ICU (which string.Normalize runs on Linux) may know fewer code points than .NET's category table.
    private static string NfdOrSelf(string run)
    {
        try
        {
            return run.Normalize(NormalizationForm.FormD);
        }
        catch (ArgumentException)
        {
            return string.Concat(run.EnumerateRunes().Select(r => NfdOrSelf(r)));
        }
    }

    private static string NfdOrSelf(Rune rune)
    {
        try
        {
            return rune.ToString().Normalize(NormalizationForm.FormD);
        }
        catch (ArgumentException)
        {
            return rune.ToString();
        }
    }

    // bert.rs is_control: the "other" categories of the unicode_categories crate except tab, newline and carriage return.
    // That crate's is_other has no unassigned (Cn) table, so tokenizers keeps unassigned code points (checked for every
    // code point against tokenizers 0.23's BertNormalizer.normalize_str).
    private static bool IsControl(Rune rune) => rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    // The CJK Unified Ideograph blocks BERT puts spaces around (bert.rs is_chinese_char).
    private static bool IsChinese(int c) => c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
        or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF)
        or (>= 0x2F800 and <= 0x2FA1F);
}
