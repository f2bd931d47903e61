// The BertNormalizer of Hugging Face tokenizers (normalizers/bert.rs) on a plain string: what tokenizers 0.23 stores
// as the text of an added token marked "normalized".
using System.Globalization;
using System.Text;

namespace Blip.Engine.Processing;

/// <summary>BERT's text normalization: clean text, CJK split, accent strip, lowercase, in the Rust library's order.</summary>
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
            if (rune.Value is 0 or 0xFFFD || IsControl(rune))
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
            foreach (var rune in result.Normalize(NormalizationForm.FormD).EnumerateRunes())
            {
                if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
                    kept.Append(rune.ToString());
            }
            result = kept.ToString();
        }
        // Rust's char::to_lowercase is the full mapping, .NET's the simple one: they differ only on U+0130 (İ).
        return lowercase ? result.Replace("\u0130", "i\u0307", StringComparison.Ordinal).ToLowerInvariant() : result;
    }

    // Rust's is_control: the "other" categories (Cc, Cf, Cn, Co, Cs) except tab, newline and carriage return.
    private static bool IsControl(Rune rune) => rune.Value is not ('\t' or '\n' or '\r') && Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;

    // The CJK Unified Ideograph blocks BERT puts spaces around (bert.rs is_chinese_char).
    private static bool IsChinese(int c) => c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF)
        or (>= 0x2A700 and <= 0x2B73F) or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B920 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF)
        or (>= 0x2F800 and <= 0x2FA1F);
}
