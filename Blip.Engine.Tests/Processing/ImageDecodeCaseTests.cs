using System.Text.Json;

namespace Blip.Engine.Tests.Processing;

/// <summary>
/// Files on which Skia once disagreed with Pillow (found by a differential fuzz of ImageDecoder): WBMP, BMP layouts,
/// cut WebP and ICO files, PNG chunk damage, against Fixtures/images/decode_cases.json (tools/reference/make_decode_cases.py).
/// </summary>
public sealed class ImageDecodeCaseTests
{
    private static readonly Lazy<JsonDocument> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(ImageFixtures.Folder, "decode_cases.json"))));

    private static List<TestCaseData> Names() =>
        Cases.Value.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => new TestCaseData(c.GetProperty("name").GetString()).SetArgDisplayNames(c.GetProperty("name").GetString()!))
            .ToList();

    [TestCaseSource(nameof(Names))]
    public void Decodes_or_refuses_as_PIL(string name)
    {
        var c = Cases.Value.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        ImageFixtures.ExpectPil(c, Convert.FromBase64String(c.GetProperty("base64").GetString()!), name);
    }
}
