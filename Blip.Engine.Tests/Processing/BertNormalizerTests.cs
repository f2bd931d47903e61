// BertNormalizer against tokenizers' own BertNormalizer.normalize_str, from Fixtures/tokenizer/bert_normalizer.json
// (tools/reference/make_bert_normalizer_table.py): every code point of the exception table, a seeded sample of the
// others, and seeded strings mixing the differing marks with marks of other combining classes.
using System.Text;
using System.Text.Json.Nodes;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class BertNormalizerTests
{
    private static readonly Lazy<JsonObject> Fixture = new(() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(TokenizerFixtures.FixtureDir, "bert_normalizer.json")))!.AsObject());

    [TestCase("table_code_points")]
    [TestCase("other_code_points")]
    public void CodePointsMatchTokenizers(string group)
    {
        var cases = Fixture.Value[group]!.AsArray().Select(c => (new Rune((int)c![0]!).ToString(), c[1]!.AsArray()));
        AssertAll(cases);
    }

    [Test]
    public void StringsMatchTokenizers() =>
        AssertAll(Fixture.Value["strings"]!.AsArray().Select(c => ((string)c![0]!, c[1]!.AsArray())));

    private static void AssertAll(IEnumerable<(string Text, JsonArray Outputs)> cases)
    {
        var settings = Fixture.Value["settings"]!.AsArray();
        var failures = new List<string>();
        int count = 0;
        foreach (var (text, outputs) in cases)
        {
            for (int i = 0; i < outputs.Count; i++)
            {
                var s = settings[i]!;
                string expected = (string?)outputs[i] ?? text;
                string actual = BertNormalizer.Normalize(text, (bool)s["handle_chinese_chars"]!, (bool?)s["strip_accents"], (bool)s["lowercase"]!);
                count++;
                if (actual != expected)
                    failures.Add($"{Hex(text)} with {s.ToJsonString()}: tokenizers [{Hex(expected)}], engine [{Hex(actual)}]");
            }
        }
        Assert.That(failures, Is.Empty, $"{failures.Count} of {count} differ; first: {string.Join("\n", failures.Take(10))}");
    }

    private static string Hex(string s) => string.Join(" ", s.EnumerateRunes().Select(r => $"U+{r.Value:X4}"));
}
