// Splits a caption into the words pycocoevalcap scores: an approximation of Stanford's PTBTokenizer (CoreNLP
// 3.4.1, -lowerCase) followed by pycocoevalcap's removal of punctuation tokens.
using System.Text;

namespace Blip.Engine.Training;

/// <summary>The words of a caption as pycocoevalcap's <c>PTBTokenizer</c> leaves them (see
/// <see cref="CaptionMetrics.Words"/> for what is and is not reproduced).</summary>
internal static class PtbWords
{
    // pycocoevalcap drops these tokens after tokenizing; every other token (symbols, brackets) is kept.
    private static readonly HashSet<int> Dropped = [.. ".?!,:;-'\"`\u2018\u2019\u201A\u201C\u201D\u201E\u2013\u2014\u2026".Select(c => (int)c)];

    // Stanford writes brackets as -LRB- etc. and lower-cases that afterwards, so they survive the filter.
    private static readonly Dictionary<int, string> Brackets = new()
    {
        ['('] = "-lrb-", [')'] = "-rrb-", ['['] = "-lsb-", [']'] = "-rsb-", ['{'] = "-lcb-", ['}'] = "-rcb-",
    };

    // Words that PTB splits in two, as Stanford and nltk's Treebank tokenizer do.
    private static readonly Dictionary<string, string[]> Split = new(StringComparer.Ordinal)
    {
        ["cannot"] = ["can", "not"], ["gonna"] = ["gon", "na"], ["gotta"] = ["got", "ta"],
        ["wanna"] = ["wan", "na"], ["gimme"] = ["gim", "me"], ["lemme"] = ["lem", "me"],
    };

    private static readonly string[] Clitics = ["n't", "'s", "'m", "'d", "'re", "'ve", "'ll"];

    public static string[] Of(string text)
    {
        var runes = text.ToLowerInvariant().EnumerateRunes().ToArray();
        var words = new List<string>();
        for (int i = 0; i < runes.Length;)
        {
            var r = runes[i];
            if (Rune.IsWhiteSpace(r) || Dropped.Contains(r.Value)) { i++; continue; }
            if (!IsWordRune(r))
            {
                words.Add(Brackets.TryGetValue(r.Value, out var b) ? b : r.ToString());
                i++;
                continue;
            }
            int start = i;
            while (i < runes.Length && (IsWordRune(runes[i]) || JoinsAt(runes, i))) i++;
            AddWord(words, string.Concat(runes[start..i].Select(x => x.ToString())).Replace('\u2019', '\''));
        }
        return [.. words];
    }

    private static bool IsWordRune(Rune r) =>
        Rune.IsLetterOrDigit(r) || Rune.GetUnicodeCategory(r) is System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark;

    // A character inside a word: a hyphen, apostrophe, slash or period between two letters/digits ("t-shirt",
    // "don't", "and/or", "3.5", "u.s"), a comma or colon between two digits ("1,000", "10:30").
    private static bool JoinsAt(Rune[] runes, int i)
    {
        if (i == 0 || i + 1 >= runes.Length || !IsWordRune(runes[i - 1]) || !IsWordRune(runes[i + 1])) return false;
        return runes[i].Value switch
        {
            '-' or '\'' or '\u2019' or '/' or '.' => true,
            ',' or ':' => Rune.IsDigit(runes[i - 1]) && Rune.IsDigit(runes[i + 1]),
            _ => false,
        };
    }

    private static void AddWord(List<string> words, string word)
    {
        if (Split.TryGetValue(word, out var parts)) { words.AddRange(parts); return; }
        foreach (var clitic in Clitics)
        {
            if (word.Length > clitic.Length && word.EndsWith(clitic, StringComparison.Ordinal))
            {
                words.Add(word[..^clitic.Length]);
                words.Add(clitic);
                return;
            }
        }
        words.Add(word);
    }
}
