// The WordPiece decoder of Hugging Face tokenizers (decoders/wordpiece.rs) with BertTokenizer's settings
// (prefix "##", cleanup on): tokens back to text.
using System.Text;

namespace Blip.Engine.Processing;

/// <summary>Joins WordPiece tokens into text as the Rust library's WordPiece decoder does.</summary>
internal static class WordPieceDecoder
{
    private const string Prefix = "##";

    /// <summary>Every token after the first is glued on without its "##" or spaced when it has none; each piece is then
    /// cleaned up on its own (the space before <c>. ? ! ,</c> and some English contractions removed).</summary>
    public static string Decode(IEnumerable<string> tokens)
    {
        var text = new StringBuilder();
        bool first = true;
        foreach (string token in tokens)
        {
            string piece = first ? token : token.StartsWith(Prefix, StringComparison.Ordinal) ? token[Prefix.Length..] : " " + token;
            text.Append(Cleanup(piece));
            first = false;
        }
        return text.ToString();
    }

    private static string Cleanup(string piece) => piece
        .Replace(" .", ".", StringComparison.Ordinal).Replace(" ?", "?", StringComparison.Ordinal)
        .Replace(" !", "!", StringComparison.Ordinal).Replace(" ,", ",", StringComparison.Ordinal)
        .Replace(" ' ", "'", StringComparison.Ordinal).Replace(" n't", "n't", StringComparison.Ordinal)
        .Replace(" 'm", "'m", StringComparison.Ordinal).Replace(" do not", " don't", StringComparison.Ordinal)
        .Replace(" 's", "'s", StringComparison.Ordinal).Replace(" 've", "'ve", StringComparison.Ordinal)
        .Replace(" 're", "'re", StringComparison.Ordinal);
}
